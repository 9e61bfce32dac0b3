import time

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from .sessions import session_expired, session_record_activity

BACKGROUND_HEADER = "X-Rapport-Background"


class SessionLifetimeMiddleware:
    """Logs out sessions that were idle too long or have outlived their lifetime."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            if session_expired(request.session, now=now):
                logout(request)
                messages.info(request, "You were signed out after a period of inactivity.")
            elif request.headers.get(BACKGROUND_HEADER) != "1":
                session_record_activity(request.session, now=now)
        return self.get_response(request)
