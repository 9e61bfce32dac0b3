import time

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

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


class PrivateResponseMiddleware:
    """Keeps every answer to a signed-in person out of caches: `Cache-Control: private, no-store`.

    Nearly every page and download of a signed-in person shows patient data or
    an organization's own; a shared proxy must not keep it, nor the browser's
    disk cache after sign-out. One rule for all responses, downloads included,
    so no new view can forget it. Signed in when the request came or when it
    was answered: the answer to a sign-out is covered too.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        signed_in = request.user.is_authenticated
        response = self.get_response(request)
        if signed_in or request.user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response
