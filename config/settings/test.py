"""Settings for the test suite.

DATABASE_URL and REDIS_URL are honoured, so the same suite runs against the
embedded defaults and against real PostgreSQL and Redis.
"""

import os

import environ

from .base import *  # noqa: F403
from .base import CELERY_BROKER_TRANSPORT_OPTIONS, DATABASES, REDIS_URL, VAR_DIR, filesystem_broker_options

SECRET_KEY = "rapport-test-key-not-for-production"  # noqa: S105
DEBUG = False
# Most tests sign admins in with force_login and no authenticator; the tests
# of two-factor sign-in turn this off (tests/clinics/test_two_factor.py).
TWO_FACTOR_DEMO_EXEMPT = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
# A real Celery worker started by an integration test delivers to that test's
# SMTP sink, e.g. smtp://127.0.0.1:2525 (tests/outbox/test_delivery.py).
# Read outside `env`: a test-only variable, not part of the documented configuration.
if os.environ.get("RAPPORT_TEST_EMAIL_URL"):
    _sink = environ.Env.email_url_config(os.environ["RAPPORT_TEST_EMAIL_URL"])
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": _sink["EMAIL_HOST"], "port": _sink["EMAIL_PORT"], "timeout": 30},
        }
    }
# Each test starts with empty counters (tests/conftest.py clears them): never
# the shared Redis, whose clearing would empty the broker's queues too.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
WHITENOISE_USE_FINDERS = True
# The suite runs in parallel processes (pytest-xdist): each keeps its own
# media folder, queue folder or Redis keys, and its own test database
# (pytest-django names one per worker), so no two ever take each other's
# files or messages. A Celery worker a test starts inherits the variable.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
MEDIA_ROOT = VAR_DIR / f"test-media-{XDIST_WORKER}"
STATIC_ROOT = None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so a real Celery worker started by a test can open
    # the same test database; one per run, so two runs never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-rapport-{os.getpid()}.sqlite3")}
if not REDIS_URL:
    # Its own queue folder, so a `make run` worker on the same machine never
    # takes the suite's messages.
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(VAR_DIR / f"test-celery-{XDIST_WORKER}")
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,
        "global_keyprefix": f"rapport-test-{XDIST_WORKER}:",
    }
