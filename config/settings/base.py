"""Settings shared by every environment.

Every value that differs between machines comes from the environment and is
parsed strictly by django-environ: a malformed value stops start-up instead of
silently falling back to a default.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "bootstrap",
    "axes",
    "phonenumber_field",
    "simple_history",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # Rapport's own apps, in dependency order: each may import only those above it.
    "accounts",
    "clinics",
    "audit",
    "outbox",
    "physicians",
    "referrals",
    "billing",
    "outcomes",
    "outreach",
    "announcements",
    "letters",
    "analytics",
    "digests",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before the CSRF check, which is the first to read a request's body.
    "config.uploads.UploadLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Tells change history (clinics/history.py) who made each save.
    "simple_history.middleware.HistoryRequestMiddleware",
    # Outside everything that answers for a signed-in person, so all of it is covered.
    "accounts.middleware.PrivateResponseMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.SessionLifetimeMiddleware",
    "clinics.tenancy.OrganizationMiddleware",
    # After the organization is known: whether a second factor is required depends on it.
    "clinics.two_factor.TwoFactorMiddleware",
    # Lets the trail name who changed a role or a setting from inside the service.
    "audit.middleware.AccessContextMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Axes must come last so it sees the outcome of every login attempt.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "clinics.context_processors.navigation",
            ],
        },
    },
]

# Database: SQLite in WAL mode when DATABASE_URL is unset, so a fresh machine
# needs no server; PostgreSQL in production.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'rapport.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        # The web server, the worker and beat write to the same file: WAL lets
        # readers proceed during a write, IMMEDIATE transactions take the write
        # lock up front so concurrent writers queue instead of failing.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sessions end after SESSION_IDLE_TIMEOUT seconds without user activity and in
# any case SESSION_ABSOLUTE_LIFETIME seconds after login (accounts.middleware).
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=30 * 60)
SESSION_ABSOLUTE_LIFETIME = env.int("SESSION_ABSOLUTE_LIFETIME", default=12 * 60 * 60)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_LIFETIME
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Two-factor sign-in (clinics/two_factor.py). The demo's people sign in
# without a second factor only where this is on: local settings turn it on,
# and `check --deploy` refuses it.
TWO_FACTOR_DEMO_EXEMPT = env.bool("TWO_FACTOR_DEMO_EXEMPT", default=False)
OTP_TOTP_ISSUER = "Rapport"

# Login throttling (django-axes): lock a username+IP pair after repeated failures.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
AXES_VERBOSE = False
# Behind a reverse proxy every request comes from the proxy's address: count
# the proxies you trust and the lockout keys on the client address they
# forward. With none, a client-supplied X-Forwarded-For is ignored.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT:
    # ipware counts the proxies listed inside X-Forwarded-For, which excludes
    # the one connecting to us: the client is the entry our nearest trusted
    # proxy appended, whatever a client wrote before it.
    AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT - 1
    # Not strict: a client-forged leading entry makes the chain longer than
    # expected, and strict mode would then key the lockout on the proxy.
    IPWARE_STRICT = False
    AXES_IPWARE_META_PRECEDENCE_ORDER: tuple[str, ...] = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="America/Denver")
# Phone numbers (clinics/phones.py): typed without a country code, a number is
# one of this country's (ISO 3166 code); stored in E.164, "+13035550142".
PHONENUMBER_DEFAULT_REGION = env.str("PHONE_REGION", default="US")
PHONENUMBER_DB_FORMAT = "E164"
PHONENUMBER_DEFAULT_FORMAT = "E164"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT: Path | None = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Uploaded files hold patient data: they are served only through views that
# check the organization, never at a public URL.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
REFERRAL_DOCUMENT_MAX_MB = env.int("REFERRAL_DOCUMENT_MAX_MB", default=20)
# The NPPES file uploaded by an admin: a state's extract of the national file.
NPPES_UPLOAD_MAX_MB = env.int("NPPES_UPLOAD_MAX_MB", default=2048)
# A visit or payment report exported from the clinic's EMR (a year of a busy clinic is a few MB).
BILLING_UPLOAD_MAX_MB = env.int("BILLING_UPLOAD_MAX_MB", default=200)
# Request bodies are capped before they are read (config/uploads.py): a view
# takes files up to the limit it declares (the two above), other views none,
# and the form fields besides the files up to DATA_UPLOAD_MAX_MEMORY_SIZE (the
# largest form, a page of referrals moved at once, is a few KB). A file larger
# than FILE_UPLOAD_MAX_MEMORY_SIZE is streamed to a temporary file, not held
# in memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = 10
FILE_UPLOAD_HANDLERS = [
    "config.uploads.UploadLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# This site's address as people reach it, for links in email (unsubscribe).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# The outbox (outbox/services.py): a sender's claim on a message lasts
# OUTBOX_LEASE_SECONDS, well beyond the SMTP timeout below, before another
# sender may take it over; a message is tried OUTBOX_MAX_ATTEMPTS times, with
# waits doubling from a minute to at most an hour, before it fails.
OUTBOX_LEASE_SECONDS = env.int("OUTBOX_LEASE_SECONDS", default=300)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=8)

# EMAIL_URL, e.g. smtp+tls://user:password@mail.example.org:587, becomes
# Django 6.1's MAILERS. The default prints email to the console.
_email = env.email_url("EMAIL_URL", default="consolemail://")
MAILERS = {"default": {"BACKEND": _email["EMAIL_BACKEND"]}}
if _email["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend":
    MAILERS["default"]["OPTIONS"] = {
        "host": _email["EMAIL_HOST"],
        "port": _email["EMAIL_PORT"],
        "username": _email["EMAIL_HOST_USER"] or None,
        "password": _email["EMAIL_HOST_PASSWORD"] or None,
        "use_tls": _email.get("EMAIL_USE_TLS", False),
        "use_ssl": _email.get("EMAIL_USE_SSL", False),
        "timeout": 30,
    }
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Rapport <rapport@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Security headers that hold in every environment; production.py adds the
# HTTPS-only ones.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}

# Celery. Without REDIS_URL the broker is kombu's filesystem transport, which
# needs no server: messages are files under var/celery/.
REDIS_URL = env.str("REDIS_URL", default="")


def filesystem_broker_options(folder: Path) -> dict:
    for name in ("queue", "control", "processed"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "control_folder": str(folder / "control"),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
    }


# Django's cache holds counters only (password-reset limits): in Redis, when
# there is one, so every web worker counts together; otherwise in each
# process's memory.
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 60 * 60}
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "rapport",
        }
    }
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(VAR_DIR / "celery")
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Tasks report through the database, never through a result backend.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=10 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=9 * 60)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# The one place where periodic jobs are declared. Beat only ticks: each job is
# a sweep that asks the database what is due, so a second beat or a rerun
# does no harm.
# The local hour (TIME_ZONE) at which the daily job flags lapsed and declining sources.
OUTREACH_FLAG_HOUR = env.int("OUTREACH_FLAG_HOUR", default=5)
# How often the letter sweep asks what is due (letters/services.py): often, as
# it costs a few queries per organization when nothing is.
LETTERS_SWEEP_SECONDS = env.int("LETTERS_SWEEP_SECONDS", default=30)
# Weekly digests queued per sweep transaction (digests/services.py): each batch
# costs a fixed number of queries per organization in it.
DIGESTS_BATCH_SIZE = env.int("DIGESTS_BATCH_SIZE", default=300)
CELERY_BEAT_SCHEDULE = {
    "sweep-expired-sessions": {
        "task": "accounts.sweep_expired_sessions",
        "schedule": timedelta(hours=1),
    },
    # Documents kept for intake forms that were never sent again.
    "sweep-pending-documents": {
        "task": "referrals.sweep_pending_documents",
        "schedule": timedelta(hours=1),
    },
    # Queues again an export whose worker died, deletes exports past their time.
    "sweep-referral-exports": {
        "task": "referrals.sweep_exports",
        "schedule": timedelta(minutes=5),
    },
    # The same for organization data exports (clinics/exports).
    "sweep-organization-exports": {
        "task": "clinics.sweep_organization_exports",
        "schedule": timedelta(minutes=5),
    },
    # Queues again an import whose worker died (physicians' NPPES file, billing reports).
    "sweep-nppes-imports": {
        "task": "physicians.sweep_nppes_imports",
        "schedule": timedelta(minutes=5),
    },
    "sweep-billing-imports": {
        "task": "billing.sweep_imports",
        "schedule": timedelta(minutes=5),
    },
    # Sends what on_commit did not (a worker down, a retry coming due).
    "send-pending-email": {
        "task": "outbox.send_pending",
        "schedule": timedelta(minutes=1),
    },
    # Outcome letters that came due: a note recorded a moment ago has its letter
    # within a minute, and the 1st of a month brings the monthly summaries.
    "compose-due-letters": {
        "task": "letters.compose_due",
        "schedule": timedelta(seconds=LETTERS_SWEEP_SECONDS),
    },
    "flag-sources": {
        "task": "outreach.flag_sources",
        "schedule": crontab(hour=OUTREACH_FLAG_HOUR, minute=0),
    },
    # Patient details past each organization's retention period; two hours
    # after the flags, in the quiet of the night.
    "remove-expired-patient-details": {
        "task": "referrals.remove_expired_patient_details",
        "schedule": crontab(hour=(OUTREACH_FLAG_HOUR + 2) % 24, minute=0),
    },
    # Weekly digests that came due: each person's day and hour on their own
    # clock is a column (digests.DigestPreference.next_digest_at), not an entry
    # here; a tick every five minutes sends each within five minutes of its hour.
    "send-due-digests": {
        "task": "digests.send_due",
        "schedule": crontab(minute="*/5"),
    },
    # Access events past each organization's retention (six years by default).
    "prune-audit-events": {
        "task": "audit.prune_events",
        "schedule": crontab(hour=(OUTREACH_FLAG_HOUR + 2) % 24, minute=30),
    },
    # Compares the dashboards' rollups with a recomputation and repairs them;
    # an hour after the flags, when nobody is looking at the figures.
    "verify-analytics-rollups": {
        "task": "analytics.verify_rollups",
        "schedule": crontab(hour=(OUTREACH_FLAG_HOUR + 1) % 24, minute=0),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "filters": {
        # Django logs the path of a 404, a 405 or a 500, which may hold a secret.
        "redact_secrets": {"()": "config.access_log.RedactSecretsFilter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_secrets"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Request logs can carry query strings; keep them at warning level.
        "django.request": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}
