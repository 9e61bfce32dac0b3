"""Logs without the secrets some addresses carry.

A calendar feed, an unsubscribe link and a password-reset link are bearer
secrets in their path: whoever reads the logs could use them. gunicorn runs
with `--logger-class config.access_log.RedactingLogger`, which replaces those
path segments before an access-log line is written, and the application's log
handler has `RedactSecretsFilter` for the paths Django itself logs (a 404, a
405, a 500).
"""

import logging
import re

from gunicorn.glogging import Logger

# The path segments after these prefixes are secrets (see the module doc).
SECRET_IN_PATH = re.compile(r"(/outreach/calendar/|/email/unsubscribe/|/accounts/reset/[^/\s?]+/)[^/\s?]+")
# Request line, path and referrer: each can hold one of those paths.
LOGGED_URLS = ("r", "U", "f")


def redact(text: str) -> str:
    return SECRET_IN_PATH.sub(r"\1[redacted]", text)


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in LOGGED_URLS:
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms
