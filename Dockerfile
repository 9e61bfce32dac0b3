# Rapport production image. One image runs every process of docker-compose.yml:
# the one-shot migration, gunicorn (web), the Celery worker and Celery beat.
#
# Sources: the python:3.13-slim base image, PyPI, and in the build stage only
# Debian's npm and the npm registry for the chart library. uv itself is
# installed from PyPI (same version as the Makefile) and installs exactly what
# uv.lock pins; it never downloads a Python interpreter. npm installs exactly
# what package-lock.json pins, and only the served file reaches the image.

# ---- build: the locked runtime dependencies, in /app/.venv -------------------
FROM python:3.13-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON_PREFERENCE=only-system \
    UV_PROJECT_ENVIRONMENT=/app/.venv

RUN pip install uv==0.13.9

WORKDIR /app
# Only the dependency manifests, so this layer is rebuilt only when they change.
COPY pyproject.toml uv.lock .python-version ./
RUN uv sync --frozen --no-dev

# The chart library the dashboards draw with, as the Makefile fetches it.
COPY package.json package-lock.json .npmrc ./
RUN apt-get update \
 && apt-get install -y --no-install-recommends npm \
 && npm ci --ignore-scripts --no-audit --no-fund \
 && mkdir -p static/vendor \
 && cp node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/LICENSE.md static/vendor/

# ---- runtime -----------------------------------------------------------------
FROM python:3.13-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/app/.venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=config.settings.production

RUN groupadd --system --gid 10001 rapport \
 && useradd --system --uid 10001 --gid rapport --home-dir /home/rapport --create-home \
        --shell /usr/sbin/nologin rapport

WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY . .
COPY --from=build /app/static/vendor static/vendor

# Static files are collected into the image (var/staticfiles, served by
# whitenoise). production.py refuses to load without a long SECRET_KEY, so this
# step alone gets a throwaway one; DATABASE_URL and REDIS_URL are placeholders
# that keep settings from creating the SQLite / filesystem-broker folders.
# Nothing here connects to anything.
# var/ stays owned by root: only the media and beat-state folders, where
# docker-compose.yml mounts named volumes, are writable by the app user (a new
# named volume takes over the owner of the folder it is mounted on).
RUN SECRET_KEY=collectstatic-only-build-key-never-used-by-a-running-server-7Qf2 \
    DATABASE_URL=postgres://build@localhost:5432/unused \
    REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --no-input --verbosity 1 \
 && mkdir -p var/media var/beat \
 && chown rapport:rapport var/media var/beat

USER rapport:rapport

EXPOSE 8000

# docker-compose.yml sets each service's command; this default runs the web server.
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-", "--logger-class", "config.access_log.RedactingLogger", "--worker-tmp-dir", "/dev/shm", "--timeout", "120"]
