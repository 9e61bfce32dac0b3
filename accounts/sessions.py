"""The session lifetime policy: an idle timeout and an absolute lifetime.

Timestamps live in the session itself; the middleware compares them with the
clock on every request. Background requests (polling) carry the header
`X-Rapport-Background: 1` and never count as activity, so a page left open on
a screen does not keep a session alive.
"""

import time

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase

STARTED_AT_KEY = "rapport_session_started_at"
LAST_ACTIVITY_KEY = "rapport_last_activity_at"
# Writing the session on every request would cost a database write per click;
# a minute's resolution is plenty for a thirty-minute timeout.
ACTIVITY_RESOLUTION_SECONDS = 60


def session_start(session: SessionBase) -> None:
    now = int(time.time())
    session[STARTED_AT_KEY] = now
    session[LAST_ACTIVITY_KEY] = now


def session_expired(session: SessionBase, *, now: float) -> bool:
    started_at = session.get(STARTED_AT_KEY)
    last_activity_at = session.get(LAST_ACTIVITY_KEY)
    if started_at is None or last_activity_at is None:
        return True
    return (
        now - started_at > settings.SESSION_ABSOLUTE_LIFETIME
        or now - last_activity_at > settings.SESSION_IDLE_TIMEOUT
    )


def session_record_activity(session: SessionBase, *, now: float) -> None:
    if now - session.get(LAST_ACTIVITY_KEY, 0) >= ACTIVITY_RESOLUTION_SECONDS:
        session[LAST_ACTIVITY_KEY] = int(now)
