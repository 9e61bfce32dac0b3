import datetime

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from outbox.models import EmailStatus, OutboundEmail
from outbox.password_reset import RESET_LIMIT_PER_ACCOUNT, RESET_LIMIT_PER_CLIENT
from outbox.services import email_send_pending

from ..factories import MembershipFactory, OrganizationFactory


def request_reset(client, user, **headers):
    return client.post(reverse("password_reset"), {"username": user.username}, **headers)


def test_a_reset_is_queued_in_the_users_organization_and_sent_by_the_outbox(
    client, summit_front_desk, summit
):
    user = summit_front_desk.user

    response = request_reset(client, user)

    assert response.status_code == 302
    assert mail.outbox == []  # nothing leaves during the request
    email = OutboundEmail.objects.get()
    assert (email.organization, email.kind, email.to_address, email.confidential) == (
        summit,
        "password_reset",
        user.email,
        True,
    )
    assert email.subject == "Reset your Rapport password"
    assert "/accounts/reset/" in email.body_text
    assert 'href="http://127.0.0.1:8000/accounts/reset/' in email.body_html  # SITE_URL

    email_send_pending()

    [message] = mail.outbox
    assert message.to == [user.email]
    assert "/accounts/reset/" in message.body
    assert message.alternatives[0].mimetype == "text/html"
    email.refresh_from_db()
    assert (email.status, email.body_text, email.body_html) == (EmailStatus.SENT, "", "")


def test_the_key_holds_no_token(client, summit_front_desk):
    request_reset(client, summit_front_desk.user)

    email = OutboundEmail.objects.get()
    link = next(line for line in email.body_text.splitlines() if "/accounts/reset/" in line)
    token = link.rstrip("/").rsplit("/", 1)[-1]
    assert token not in email.idempotency_key


def test_a_double_submitted_form_sends_once(client, summit_front_desk):
    with time_machine.travel(timezone.now(), tick=False):
        request_reset(client, summit_front_desk.user)
        request_reset(client, summit_front_desk.user)

    assert OutboundEmail.objects.count() == 1


def test_a_user_in_several_organizations_gets_it_from_the_first(client, summit_front_desk, summit):
    MembershipFactory(user=summit_front_desk.user, organization=OrganizationFactory(name="Alpine Therapy"))

    request_reset(client, summit_front_desk.user)

    assert OutboundEmail.objects.get().organization.name == "Alpine Therapy"


def test_a_user_without_an_active_membership_gets_no_email(client, summit_front_desk):
    summit_front_desk.is_active = False
    summit_front_desk.save()

    response = request_reset(client, summit_front_desk.user)

    assert response.status_code == 302  # the page says the same either way
    assert not OutboundEmail.objects.exists()


def test_an_unknown_username_gets_no_email(client, summit_front_desk):
    response = client.post(reverse("password_reset"), {"username": "summit.nobody"})

    assert response.status_code == 302
    assert not OutboundEmail.objects.exists()


def test_the_link_comes_from_site_url_whatever_host_the_request_names(client, settings, summit_front_desk):
    settings.SITE_URL = "https://rapport.example.org"
    settings.ALLOWED_HOSTS = ["*"]  # as behind a proxy that passes any Host through

    response = request_reset(client, summit_front_desk.user, HTTP_HOST="evil.example", secure=False)

    assert response.status_code == 302
    email = OutboundEmail.objects.get()
    assert "evil.example" not in email.body_text + email.body_html
    assert "https://rapport.example.org/accounts/reset/" in email.body_text
    assert 'href="https://rapport.example.org/accounts/reset/' in email.body_html


def _requests_a_second_apart(client, count, data_for):
    """Responses to `count` reset requests a second apart (each a new token, so a new email)."""
    start = timezone.now()
    responses = []
    for i in range(count):
        with time_machine.travel(start + datetime.timedelta(seconds=i), tick=False):
            responses.append(client.post(reverse("password_reset"), data_for(i)))
    return responses


def test_six_rapid_requests_for_one_account_queue_three_emails_and_answer_alike(client, summit_front_desk):
    responses = _requests_a_second_apart(client, 6, lambda i: {"username": summit_front_desk.user.username})
    unknown = client.post(reverse("password_reset"), {"username": "summit.nobody"})

    assert OutboundEmail.objects.count() == RESET_LIMIT_PER_ACCOUNT == 3
    # Sent, limited or unknown: the same answer, so none tells what happened.
    answers = {(response.status_code, response["Location"]) for response in [*responses, unknown]}
    assert answers == {(302, reverse("password_reset_done"))}


def test_one_client_asking_for_many_accounts_is_limited(client, summit, member_factory):
    people = [member_factory(summit).user for _ in range(RESET_LIMIT_PER_CLIENT + 2)]

    _requests_a_second_apart(client, len(people), lambda i: {"username": people[i].username})

    assert OutboundEmail.objects.count() == RESET_LIMIT_PER_CLIENT


def test_the_account_limit_lifts_after_an_hour(client, summit_front_desk):
    _requests_a_second_apart(client, 4, lambda i: {"username": summit_front_desk.user.username})

    with time_machine.travel(timezone.now() + datetime.timedelta(hours=1, minutes=1), tick=False):
        request_reset(client, summit_front_desk.user)

    assert OutboundEmail.objects.count() == RESET_LIMIT_PER_ACCOUNT + 1


@pytest.mark.parametrize("requested_by", ["username", "email"])
def test_another_organizations_account_with_the_same_address_learns_nothing(
    client, summit_front_desk, harbor, requested_by
):
    """Harbor gives one of its accounts Summit's staff member's address: Summit's resets stay Summit's."""
    lookalike = MembershipFactory(organization=harbor, user__email=summit_front_desk.user.email)

    client.post(reverse("password_reset"), {requested_by: getattr(summit_front_desk.user, requested_by)})

    assert not OutboundEmail.objects.filter(organization=harbor).exists()
    assert not OutboundEmail.objects.filter(idempotency_key__contains=f":{lookalike.user.pk}:").exists()
