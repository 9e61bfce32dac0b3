import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

PROJECT = Path(settings.BASE_DIR)
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "kP3v9-Zq2x7LmN4tR8wY1bC6dF0gH5jK-sA2eI9oU3yT7rE4wQ1zX8cV5bN0mL6",
    "ALLOWED_HOSTS": "rapport.example.org",
    "DATABASE_URL": "postgres://rapport:secret@db.example.org:5432/rapport",
    "REDIS_URL": "redis://cache.example.org:6379/0",
    "EMAIL_URL": "smtp+tls://rapport:secret@mail.example.org:587",
    "SITE_URL": "https://rapport.example.org",
}


def manage(*args, env):
    # Only what the production environment sets: nothing of the test run's own
    # (DJANGO_*, DATABASE_URL, ...) may leak into the checked process.
    clean_env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env={**clean_env, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_under_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_refuses_the_demos_two_factor_exemption():
    result = manage("check", "--deploy", env={**PRODUCTION_ENV, "TWO_FACTOR_DEMO_EXEMPT": "true"})

    assert result.returncode != 0
    assert "clinics.E001" in result.stderr + result.stdout


@pytest.mark.parametrize("secret_key", ["", "short", "django-insecure-" + "x" * 60])
def test_production_refuses_to_start_without_a_real_secret_key(secret_key):
    result = manage("check", env={**PRODUCTION_ENV, "SECRET_KEY": secret_key})

    assert result.returncode != 0
    assert "Set SECRET_KEY to a long random value" in result.stderr


@pytest.mark.parametrize("variable", ["DATABASE_URL", "REDIS_URL", "EMAIL_URL", "SITE_URL"])
def test_production_refuses_the_embedded_defaults(variable):
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != variable}

    result = manage("check", env=env)

    assert result.returncode != 0
    assert f"Production needs these environment variables: {variable}" in result.stderr


def test_malformed_environment_stops_start_up():
    result = manage("check", env={**PRODUCTION_ENV, "SESSION_IDLE_TIMEOUT": "thirty minutes"})

    assert result.returncode != 0
    assert "thirty minutes" in result.stderr


def test_trusted_proxy_count_configures_client_address_lookup():
    show = "from django.conf import settings as s; print(s.AXES_IPWARE_PROXY_COUNT, s.IPWARE_STRICT)"

    result = manage("shell", "--no-imports", "-c", show, env={**PRODUCTION_ENV, "TRUSTED_PROXY_COUNT": "1"})

    assert result.stdout.split() == ["0", "False"], result.stderr
