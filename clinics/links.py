"""The two kinds of address Rapport hands out: back to where someone came from, and links that leave the site.

1. `next_url(request, default=...)` is the return address a link or form
   carried in `next` (POST first, then GET), or `default` when it is missing
   or not a path on this site. Every view that sends people back somewhere
   goes through it, so none can be turned into a redirect to another site
   (`https://evil.example/`, `//evil.example/`, `/\\evil.example`), a
   `javascript:` link or a header broken by a line break.
2. `site_url(path)` is an absolute link (emails, a calendar address) built
   from SITE_URL, never from the request's Host header, which the client
   writes.
"""

import unicodedata

from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request: HttpRequest, candidate: str | None) -> str | None:
    """`candidate` if it is a path on this site, else None."""
    if not candidate or not candidate.startswith("/"):
        return None
    if any(unicodedata.category(char) == "Cc" for char in candidate):
        return None
    if not url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    return candidate


def next_url(request: HttpRequest, *, default: str, candidate: str | None = None, **default_kwargs) -> str:
    """Where to send the person next: `candidate` (else the request's `next`) if safe, else `default`.

    `default` is a URL name (with `default_kwargs`) or a path.
    """
    if candidate is None:
        candidate = request.POST.get("next") or request.GET.get("next")
    return safe_next(request, candidate) or resolve_url(default, **default_kwargs)


def site_url(path: str) -> str:
    """The absolute address of `path` (from reverse()) as people reach this site."""
    return settings.SITE_URL.rstrip("/") + path
