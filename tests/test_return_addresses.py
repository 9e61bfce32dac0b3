"""No return address (`next`, a list's query to go back to) can send anyone to another site.

Every URL pattern is requested by GET and POST with each evil address in
`next` (and `return_query`), as a signed-in admin with real objects of their
organization, so each view takes the path it takes for real. Wherever a
response sends the browser (Location, HX-Redirect, the links of the page),
it stays on this site, and nothing answers 500.
"""

import re
from urllib.parse import urlsplit

import pytest
from django.test import RequestFactory
from django.urls import reverse

from clinics.links import next_url, safe_next
from clinics.models import Role

from .test_url_isolation import NOT_OBJECT_URLS, iter_patterns, url_kwargs

EVIL = [
    "https://evil.example/",
    "//evil.example/",
    "/\\evil.example",
    "javascript:alert(1)",
    "/ok\r\nSet-Cookie: x=1",
]
HREF = re.compile(r'href="([^"]*)"')


def _off_site(address: str) -> bool:
    address = address.strip().replace("\\", "/")
    parts = urlsplit(address)
    return bool(parts.scheme and parts.scheme not in ("http", "https")) or (
        bool(parts.netloc) and parts.netloc != "testserver"
    )


def _where_it_sends(response) -> list[str]:
    targets = [response[header] for header in ("Location", "HX-Redirect") if response.has_header(header)]
    if response.get("Content-Type", "").startswith("text/html") and not response.streaming:
        targets += [href.replace("&amp;", "&") for href in HREF.findall(response.content.decode())]
    return targets


@pytest.mark.parametrize("evil", EVIL)
def test_safe_next_refuses_every_off_site_address(rf: RequestFactory, evil):
    request = rf.get("/", {"next": evil})

    assert safe_next(request, evil) is None
    assert next_url(request, default="referrals:list") == reverse("referrals:list")


def test_next_url_keeps_a_path_on_this_site(rf: RequestFactory):
    request = rf.post("/", {"next": "/referrals/?status=received"})

    assert next_url(request, default="home") == "/referrals/?status=received"


SENTINEL = "/came-from/?page=2"
# Views known to send people back; the walk must find at least these.
KNOWN = {
    "login",
    "referrals:bulk_transition",
    "outreach:touch_create",
    "outreach:touch_remove",
    "outreach:followup_complete",
    "outreach:followup_snooze",
}


def _request(client, method, name, organization, return_address):
    keywords = {key for key in _patterns()[name].pattern.converters}
    if name in NOT_OBJECT_URLS:
        kwargs = dict.fromkeys(keywords, "not-a-secret")
    else:
        # Objects afresh for each request: a POST may have removed or completed the last ones.
        kwargs = url_kwargs(keywords, organization)
    data = {"next": return_address, "return_query": f"next={return_address}"}
    return getattr(client, method)(reverse(name, kwargs=kwargs), data)


def _patterns() -> dict:
    # Signing out would end the walk's session: tested on its own below.
    return {name: pattern for name, pattern in iter_patterns() if name != "logout"}


@pytest.mark.parametrize("method", ["get", "post"])
def test_no_view_sends_anyone_off_site(client, summit, member_factory, method):
    """First finds the views that send people back to a given address, then tries every evil one on them."""
    client.force_login(member_factory(summit, Role.ADMIN).user)
    taking = set()
    for name in _patterns():
        response = _request(client, method, name, summit, SENTINEL)
        assert response.status_code < 500, name
        if any(target.startswith(SENTINEL) for target in _where_it_sends(response)):
            taking.add(name)
    failures = []

    for name in sorted(taking):
        for evil in EVIL:
            response = _request(client, method, name, summit, evil)
            if response.status_code >= 500:
                failures.append(f"{method.upper()} {name} next={evil!r}: {response.status_code}")
            failures += [
                f"{method.upper()} {name} next={evil!r} sends to {target!r}"
                for target in _where_it_sends(response)
                if _off_site(target)
            ]

    assert taking, "no view took a return address: the walk is broken"
    assert not failures, "\n".join(failures)


def test_the_walk_finds_every_view_known_to_take_a_return_address(client, summit, member_factory):
    client.force_login(member_factory(summit, Role.ADMIN).user)
    taking = set()

    for method in ("get", "post"):
        for name in KNOWN:
            response = _request(client, method, name, summit, SENTINEL)
            if any(target.startswith(SENTINEL) for target in _where_it_sends(response)):
                taking.add(name)

    assert taking == KNOWN


@pytest.mark.parametrize("evil", EVIL)
def test_signing_out_never_sends_anyone_off_site(client, summit_front_desk, evil):
    client.force_login(summit_front_desk.user)

    response = client.post(reverse("logout"), {"next": evil})

    assert response.status_code == 302
    assert not _off_site(response["Location"])
