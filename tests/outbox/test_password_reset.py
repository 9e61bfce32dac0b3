import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from outbox.models import EmailStatus, OutboundEmail
from outbox.services import email_send_pending

from ..factories import MembershipFactory, OrganizationFactory


def request_reset(client, user):
    return client.post(reverse("password_reset"), {"email": user.email})


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
    assert 'href="http://testserver/accounts/reset/' in email.body_html

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


def test_an_unknown_address_gets_no_email(client, summit_front_desk):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})

    assert response.status_code == 302
    assert not OutboundEmail.objects.exists()
