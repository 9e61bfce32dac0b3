"""Production: HTTPS behind a proxy, PostgreSQL, Redis, real SECRET_KEY."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import SECRET_KEY, env

if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure"):
    raise ImproperlyConfigured(
        "Set SECRET_KEY to a long random value (at least 50 characters), e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(64))'"
    )

REQUIRED = ("DATABASE_URL", "REDIS_URL", "EMAIL_URL", "SITE_URL")
missing = [name for name in REQUIRED if not env.str(name, default="")]
if missing:
    # The embedded defaults (SQLite, a filesystem broker, email printed to the
    # log, links to 127.0.0.1) are for one machine; in production they would
    # lose data, leak password-reset links into logs or mail dead links.
    raise ImproperlyConfigured(f"Production needs these environment variables: {', '.join(missing)}")

DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
