from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.middleware import BACKGROUND_HEADER
from outbox.services import email_send_pending

from ..factories import TEST_PASSWORD


@pytest.fixture
def signed_in(client, summit_front_desk):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client.post(
            reverse("login"), {"username": summit_front_desk.user.username, "password": TEST_PASSWORD}
        )
        assert client.get(reverse("home")).status_code == 200
        yield client, traveller


def is_signed_in(client) -> bool:
    return client.get(reverse("home")).status_code == 200


def test_session_survives_activity_within_the_idle_timeout(signed_in):
    client, traveller = signed_in
    for _ in range(4):
        traveller.shift(timedelta(seconds=settings.SESSION_IDLE_TIMEOUT - 120))
        assert is_signed_in(client)


def test_session_ends_after_the_idle_timeout(signed_in):
    client, traveller = signed_in
    traveller.shift(timedelta(seconds=settings.SESSION_IDLE_TIMEOUT + 1))

    response = client.get(reverse("home"), follow=True)

    assert response.redirect_chain[-1][0].startswith(reverse("login"))
    assert b"signed out after a period of inactivity" in response.content


def test_background_polling_does_not_keep_a_session_alive(signed_in):
    client, traveller = signed_in
    for _ in range(3):
        traveller.shift(timedelta(seconds=settings.SESSION_IDLE_TIMEOUT // 2))
        client.get(reverse("home"), headers={BACKGROUND_HEADER: "1"})

    assert not is_signed_in(client)


def test_session_ends_at_its_absolute_lifetime_despite_activity(signed_in):
    client, traveller = signed_in
    elapsed = 0
    while elapsed + settings.SESSION_IDLE_TIMEOUT // 2 < settings.SESSION_ABSOLUTE_LIFETIME:
        traveller.shift(timedelta(seconds=settings.SESSION_IDLE_TIMEOUT // 2))
        elapsed += settings.SESSION_IDLE_TIMEOUT // 2
        assert is_signed_in(client)
    traveller.shift(timedelta(seconds=settings.SESSION_IDLE_TIMEOUT // 2))

    assert not is_signed_in(client)


def test_repeated_wrong_passwords_lock_the_account_out(client, summit_front_desk):
    username = summit_front_desk.user.username
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(reverse("login"), {"username": username, "password": "wrong"})
    assert response.status_code == 429
    assert b"Too many sign-in attempts" in response.content

    response = client.post(reverse("login"), {"username": username, "password": TEST_PASSWORD})
    assert response.status_code == 429


def test_wrong_password_says_so_in_the_page(client, summit_front_desk):
    response = client.post(
        reverse("login"), {"username": summit_front_desk.user.username, "password": "wrong"}
    )

    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_password_reset_sends_a_link_that_sets_a_new_password(client, summit_front_desk):
    user = summit_front_desk.user
    client.post(reverse("password_reset"), {"username": user.username})
    email_send_pending()  # what the worker does once the request has committed

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "Reset your Rapport password"
    link = next(line for line in message.body.splitlines() if "/accounts/reset/" in line)
    form_url = client.get(link.strip(), follow=True).redirect_chain[-1][0]
    new_password = "another-long-passphrase-42"
    client.post(form_url, {"new_password1": new_password, "new_password2": new_password})

    user.refresh_from_db()
    assert user.check_password(new_password)


def test_password_change_requires_sign_in(client):
    response = client.get(reverse("password_change"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("forwarded", ["203.0.113.7", "198.51.100.9, 203.0.113.7"])
def test_lockout_keys_on_the_client_our_proxy_saw(client, settings, forwarded):
    """Behind one proxy, lockouts follow the real client, and a forged leading entry is ignored."""
    from axes.helpers import get_client_ip_address

    settings.AXES_IPWARE_PROXY_COUNT = 0  # TRUSTED_PROXY_COUNT=1
    settings.IPWARE_STRICT = False
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    request = client.get(reverse("login"), headers={"X-Forwarded-For": forwarded}).wsgi_request

    assert get_client_ip_address(request) == "203.0.113.7"


def test_without_trusted_proxies_a_forged_forwarded_header_is_ignored(client):
    from axes.helpers import get_client_ip_address

    request = client.get(reverse("login"), headers={"X-Forwarded-For": "203.0.113.7"}).wsgi_request

    assert get_client_ip_address(request) == "127.0.0.1"
