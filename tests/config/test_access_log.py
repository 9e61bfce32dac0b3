"""The access log never holds a secret address: calendar feeds, unsubscribe, survey, password-reset links."""

import datetime
import logging
from types import SimpleNamespace

import pytest
from django.conf import settings
from gunicorn.config import Config

from config.access_log import RedactingLogger, RedactSecretsFilter, redact


@pytest.mark.parametrize(
    ("logged", "expected"),
    [
        ("GET /outreach/calendar/s3cr3t-T0ken.ics HTTP/1.1", "GET /outreach/calendar/[redacted] HTTP/1.1"),
        ("POST /email/unsubscribe/AbC_123/ HTTP/1.1", "POST /email/unsubscribe/[redacted]/ HTTP/1.1"),
        ("GET /accounts/reset/MQ/cz3-abc123/ HTTP/1.1", "GET /accounts/reset/MQ/[redacted]/ HTTP/1.1"),
        ("GET /outcomes/survey/MQ:1wEr:QKNg_w/ HTTP/1.1", "GET /outcomes/survey/[redacted]/ HTTP/1.1"),
        ("GET /directory/12/?q=smith HTTP/1.1", "GET /directory/12/?q=smith HTTP/1.1"),
    ],
)
def test_secret_path_segments_are_redacted(logged, expected):
    assert redact(logged) == expected


@pytest.mark.parametrize(
    "path",
    [
        "/outreach/c%61lendar/s3cr3t.ics",
        "/outreach/%63%61%6C%65ndar/s3cr3t.ics",
        "/outreach%2Fcalendar/s3cr3t.ics",
        "/outreach/c%2561lendar/s3cr3t.ics",
        "/email/unsubscrib%65/s3cr3t/",
        "/accounts/r%65set/MQ/s3cr3t/",
        "/outreach/calendar/s3cr3t.ics%0aGET /forged",
    ],
)
def test_a_percent_encoded_secret_path_is_redacted_after_decoding(path):
    logged = redact(f"GET {path} HTTP/1.1")

    assert "s3cr3t" not in logged
    assert "[redacted]" in logged
    assert "\n" not in logged


def test_a_line_without_a_secret_is_kept_as_logged():
    assert redact("GET /directory/?q=o%27brien HTTP/1.1") == "GET /directory/?q=o%27brien HTTP/1.1"


def test_the_logger_redacts_the_request_line_path_and_referrer():
    logger = RedactingLogger(Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/outreach/calendar/s3cr3t.ics",
        "PATH_INFO": "/outreach/calendar/s3cr3t.ics",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": "https://rapport.example.org/email/unsubscribe/t0ken/",
    }
    request = SimpleNamespace(headers=[])
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])

    atoms = logger.atoms(response, request, environ, datetime.timedelta(seconds=0))

    assert "s3cr3t" not in atoms["r"] + atoms["U"]
    assert "t0ken" not in atoms["f"]


def test_every_way_of_starting_the_web_server_uses_it():
    base = settings.BASE_DIR
    for launcher in ("Procfile", "Dockerfile", "docker-compose.yml"):
        assert "config.access_log.RedactingLogger" in (base / launcher).read_text(), launcher


def test_the_application_log_redacts_a_path_django_logs():
    (handler,) = [
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(each, RedactSecretsFilter) for each in handler.filters)
    ]
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "Not Found: %s",
        ("/outreach/calendar/s3cr3t.ics",),
        None,
    )

    handler.filter(record)

    assert record.getMessage() == "Not Found: /outreach/calendar/[redacted]"


def test_a_link_scanners_head_request_to_an_unsubscribe_link_is_not_refused(client, db):
    response = client.head("/email/unsubscribe/unknown-token/")

    assert response.status_code == 404
