"""Logs without the secrets some addresses carry.

A calendar feed, an unsubscribe link, a patient's survey link, a letter's emailed
link and a password-reset link are bearer secrets in their path: whoever reads the
logs could use them. gunicorn runs
with `--logger-class config.access_log.RedactingLogger`, which replaces those
path segments before an access-log line is written, and the application's log
handler has `RedactSecretsFilter` for the paths Django itself logs (a 404, a
405, a 500).

The server decodes a path before routing it, so `/outreach/c%61lendar/<secret>`
reaches the calendar feed: the prefixes are looked for in the decoded text.
"""

import logging
import re
from urllib.parse import quote, unquote

from gunicorn.glogging import Logger

# The path segments after these prefixes are secrets (see the module doc).
SECRET_IN_PATH = re.compile(
    r"(/outreach/calendar/|/email/unsubscribe/|/outcomes/survey/|/letters/read/|/accounts/reset/[^/\s?]+/)"
    r"[^/\s?]+"
)
# Request line, path and referrer: each can hold one of those paths.
LOGGED_URLS = ("r", "U", "f")


# Enough rounds to undo any encoding a client can stack; each one only shortens the text.
DECODE_ROUNDS = 5


def _decoded(text: str) -> str:
    for _ in range(DECODE_ROUNDS):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    return text


def redact(text: str) -> str:
    """`text` with every secret path segment replaced, however the path was percent-encoded.

    A line without a secret is returned exactly as logged. A line with one is
    returned decoded (the redacted form of what the server routed), with any
    character that is not printable encoded again, so a decoded CR or LF
    cannot forge a log line.
    """
    decoded = _decoded(text)
    if not SECRET_IN_PATH.search(decoded):
        return text
    redacted = SECRET_IN_PATH.sub(r"\1[redacted]", decoded)
    return "".join(char if char.isprintable() else quote(char) for char in redacted)


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
