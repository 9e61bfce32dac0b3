import smtplib
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from outbox.models import EmailStatus, EmailSuppression
from outbox.services import email_enqueue, email_retry, email_send_pending, email_unsubscribe

from .factories import OutboundEmailFactory


@pytest.fixture
def announcement(summit, email_templates):
    return email_enqueue(
        organization=summit,
        kind="service_announcement",
        idempotency_key="announcement:1:physician:1",
        to="Dr.Lee@Example.org",
        template="outbox_test/announcement",
        context={"physician": "Lee", "clinic": "Summit PT", "program": "pelvic health"},
        unsubscribe=True,
    )


def unsubscribe_url(email) -> str:
    return reverse("outbox:unsubscribe", kwargs={"token": email.unsubscribe_token})


def test_the_link_names_no_address(announcement):
    url = unsubscribe_url(announcement)

    assert "lee" not in url.lower()
    assert "example" not in url


def test_get_asks_and_changes_nothing(client, announcement):
    """Mail scanners open every link: a GET must never unsubscribe."""
    response = client.get(unsubscribe_url(announcement))

    assert response.status_code == 200
    assert b"Stop email like this one from Summit Physical Therapy" in response.content
    assert "D…@Example.org" in response.content.decode()
    assert not EmailSuppression.objects.exists()


def test_post_from_the_page_unsubscribes(client, announcement, summit):
    response = client.post(unsubscribe_url(announcement))

    assert response.status_code == 200
    assert b"You are unsubscribed" in response.content
    suppression = EmailSuppression.objects.get()
    assert (suppression.organization, suppression.address) == (summit, "dr.lee@example.org")


def test_one_click_post_works_without_a_csrf_token(client_factory, announcement):
    """RFC 8058: the mail provider POSTs List-Unsubscribe=One-Click from its own servers."""
    provider = client_factory(enforce_csrf_checks=True)

    response = provider.post(
        unsubscribe_url(announcement),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert EmailSuppression.objects.filter(address="dr.lee@example.org").exists()


def test_unsubscribing_twice_changes_nothing(client, announcement):
    client.post(unsubscribe_url(announcement))
    response = client.post(unsubscribe_url(announcement))

    assert response.status_code == 200
    assert EmailSuppression.objects.count() == 1


def test_an_unknown_token_is_404(client, announcement):
    assert client.get(reverse("outbox:unsubscribe", kwargs={"token": "no-such-token"})).status_code == 404
    assert client.post(reverse("outbox:unsubscribe", kwargs={"token": "no-such-token"})).status_code == 404
    assert email_unsubscribe(token="no-such-token") is None
    assert email_unsubscribe(token="") is None
    assert not EmailSuppression.objects.exists()


def test_other_methods_are_refused(client, announcement):
    assert client.put(unsubscribe_url(announcement)).status_code == 405


def test_unsubscribing_suppresses_what_is_still_queued_for_that_address(client, announcement, summit, harbor):
    queued = OutboundEmailFactory(
        organization=summit, to_address="dr.lee@example.org", unsubscribe_token="t2"
    )
    password_reset = OutboundEmailFactory(organization=summit, to_address="dr.lee@example.org")
    elsewhere = OutboundEmailFactory(
        organization=harbor, to_address="dr.lee@example.org", unsubscribe_token="t3"
    )

    client.post(unsubscribe_url(announcement))
    email_send_pending()

    for email in (announcement, queued, password_reset, elsewhere):
        email.refresh_from_db()
    assert announcement.status == queued.status == EmailStatus.SUPPRESSED
    assert password_reset.status == elsewhere.status == EmailStatus.SENT
    assert sorted(message.to[0] for message in mail.outbox) == ["dr.lee@example.org"] * 2


def test_a_later_announcement_to_the_address_is_suppressed(client, announcement, summit):
    client.post(unsubscribe_url(announcement))

    later = email_enqueue(
        organization=summit,
        kind="service_announcement",
        idempotency_key="announcement:2:physician:1",
        to="dr.lee@example.org",
        template="outbox_test/announcement",
        context={"physician": "Lee", "clinic": "Summit PT", "program": "dry needling"},
        unsubscribe=True,
    )

    assert later.status == EmailStatus.SUPPRESSED


@pytest.mark.parametrize(
    ("unsubscribe_token", "outcome"),
    [("t2", EmailStatus.SUPPRESSED), ("", EmailStatus.SENT)],
    ids=["opt-out email is suppressed", "transactional email still goes"],
)
def test_a_message_whose_sender_died_is_not_sent_after_its_address_unsubscribed(
    announcement, summit, unsubscribe_token, outcome
):
    """A row being sent is left to its sender; once that sender's lease runs out, the claim decides."""
    with time_machine.travel(timezone.now(), tick=False) as clock:
        stranded = OutboundEmailFactory(
            organization=summit,
            to_address="dr.lee@example.org",
            unsubscribe_token=unsubscribe_token,
            status=EmailStatus.SENDING,
            attempts=1,
            claim_token="dead-sender",
            claimed_until=timezone.now() + timedelta(minutes=5),
        )
        email_unsubscribe(token=announcement.unsubscribe_token)
        stranded.refresh_from_db()
        assert stranded.status == EmailStatus.SENDING

        clock.shift(timedelta(minutes=5))
        email_send_pending()

    stranded.refresh_from_db()
    assert (stranded.status, stranded.claim_token, stranded.claimed_until) == (outcome, "", None)
    assert [message.to for message in mail.outbox] == (
        [["dr.lee@example.org"]] if outcome == EmailStatus.SENT else []
    )


def test_retrying_a_failure_to_an_address_that_unsubscribed_meanwhile_suppresses_it(
    admin_client, announcement, scripted_mailer
):
    """The recipient unsubscribes while the message is being sent, and the server refuses it."""

    def unsubscribe_then_refuse():
        email_unsubscribe(token=announcement.unsubscribe_token)
        return smtplib.SMTPRecipientsRefused({"dr.lee@example.org": (550, b"5.2.2 Mailbox full")})

    scripted_mailer.script = [unsubscribe_then_refuse]
    email_send_pending()
    announcement.refresh_from_db()
    assert announcement.status == EmailStatus.FAILED

    response = admin_client.post(reverse("outbox:retry", kwargs={"email_id": announcement.pk}), follow=True)

    assert "Not sent: this address has unsubscribed" in response.content.decode()
    announcement.refresh_from_db()
    assert announcement.status == EmailStatus.SUPPRESSED
    assert email_send_pending() == 0
    assert mail.outbox == []


def test_retrying_a_password_reset_to_an_address_that_unsubscribed_queues_it(announcement, summit):
    email_unsubscribe(token=announcement.unsubscribe_token)
    password_reset = OutboundEmailFactory(
        organization=summit, kind="password_reset", to_address="Dr.Lee@Example.org", status=EmailStatus.FAILED
    )

    email_retry(email=password_reset)

    assert password_reset.status == EmailStatus.PENDING
    assert email_send_pending() == 1


def test_a_queued_message_the_unsubscribe_did_not_catch_is_suppressed_when_claimed(summit):
    """An announcement queued with the list read just before an unsubscribe committed."""
    late = OutboundEmailFactory(organization=summit, to_address="Dr.Lee@Example.org", unsubscribe_token="t2")
    EmailSuppression.objects.create(organization=summit, address="dr.lee@example.org")

    assert email_send_pending() == 0

    late.refresh_from_db()
    assert late.status == EmailStatus.SUPPRESSED
    assert mail.outbox == []
