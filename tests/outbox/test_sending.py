import smtplib
import threading
from datetime import timedelta
from email import policy as email_policy

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from outbox.models import EmailStatus, OutboundEmail
from outbox.services import email_retry, email_send_pending
from outbox.tasks import send_pending

from ..factories import OrganizationFactory
from .factories import OutboundEmailFactory

LEASE = timedelta(seconds=300)


@pytest.fixture
def clock():
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def message_ids() -> list[str]:
    return [message.message()["Message-ID"] for message in mail.outbox]


def test_a_due_email_is_sent_with_its_parts_and_headers(summit):
    email = OutboundEmailFactory(
        organization=summit,
        headers={
            "List-Unsubscribe": "<https://x.test/u/1/>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )

    assert email_send_pending() == 1

    email.refresh_from_db()
    assert (email.status, email.attempts, email.claim_token, email.claimed_until) == (
        EmailStatus.SENT,
        1,
        "",
        None,
    )
    assert email.sent_at is not None
    [message] = mail.outbox
    assert message.to == [email.to_address]
    assert message.subject == email.subject
    assert message.body == email.body_text
    assert message.alternatives[0].content == email.body_html
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message_ids() == [email.message_id]


def test_the_message_id_is_derived_from_the_idempotency_key_and_hides_it(summit, settings):
    settings.SITE_URL = "https://rapport.example.org"
    email = OutboundEmailFactory(organization=summit, idempotency_key="password_reset:42:abc")
    same_key = OutboundEmail(idempotency_key="password_reset:42:abc")

    assert email.message_id == same_key.message_id
    assert email.message_id.endswith("@rapport.example.org>")
    assert "password_reset" not in email.message_id
    assert email.message_id != OutboundEmailFactory(organization=summit).message_id


def test_running_the_sender_again_sends_nothing_twice(summit):
    OutboundEmailFactory.create_batch(3, organization=summit)

    assert email_send_pending() == 3
    assert email_send_pending() == 0
    send_pending()  # the task is the same sweep

    assert len(mail.outbox) == 3


def test_emails_not_yet_due_and_finished_ones_wait(summit):
    OutboundEmailFactory(organization=summit, next_attempt_at=timezone.now() + timedelta(minutes=5))
    for status in (EmailStatus.SENT, EmailStatus.FAILED, EmailStatus.SUPPRESSED):
        OutboundEmailFactory(organization=summit, status=status)

    assert email_send_pending() == 0
    assert mail.outbox == []


def test_limit_bounds_one_run(summit):
    OutboundEmailFactory.create_batch(3, organization=summit)

    assert email_send_pending(limit=2) == 2
    assert OutboundEmail.objects.filter(status=EmailStatus.PENDING).count() == 1


def test_transient_failures_back_off_exponentially_then_fail(summit, scripted_mailer, clock, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 9
    email = OutboundEmailFactory(organization=summit)
    scripted_mailer.script = [smtplib.SMTPServerDisconnected("Connection unexpectedly closed")] * 9
    waits = []

    for _ in range(8):
        before = timezone.now()
        email_send_pending()
        email.refresh_from_db()
        assert email.status == EmailStatus.PENDING
        waits.append(email.next_attempt_at - before)
        clock.move_to(email.next_attempt_at - timedelta(seconds=1))
        assert email_send_pending() == 0  # not due yet
        clock.move_to(email.next_attempt_at)
    email_send_pending()

    assert [wait // timedelta(minutes=1) for wait in waits] == [1, 2, 4, 8, 16, 32, 60, 60]
    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.FAILED, 9)
    assert email.last_error == "SMTPServerDisconnected: Connection unexpectedly closed"
    assert mail.outbox == []


@pytest.mark.parametrize(
    "error",
    [
        smtplib.SMTPRecipientsRefused({"gone@example.com": (550, b"5.1.1 No such user")}),
        smtplib.SMTPDataError(554, b"5.7.1 Message rejected"),
        ValueError("Invalid address 'x@@example.com'"),
    ],
    ids=["recipient refused", "message refused", "malformed address"],
)
def test_a_permanent_refusal_fails_at_once(summit, scripted_mailer, error):
    email = OutboundEmailFactory(organization=summit)
    scripted_mailer.script = [error]

    email_send_pending()

    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.FAILED, 1)
    assert email.last_error.startswith(type(error).__name__)
    assert email.body_text not in email.last_error


@pytest.mark.parametrize(
    "error",
    [
        smtplib.SMTPRecipientsRefused({"busy@example.com": (450, b"4.2.1 Mailbox busy, try later")}),
        smtplib.SMTPAuthenticationError(535, b"5.7.8 Bad credentials"),
        smtplib.SMTPSenderRefused(550, b"5.7.1 Sender not allowed", "rapport@localhost"),
        TimeoutError("timed out"),
    ],
    ids=["greylisted", "our credentials", "our sender", "timeout"],
)
def test_transient_and_configuration_errors_are_retried(summit, scripted_mailer, error):
    email = OutboundEmailFactory(organization=summit)
    scripted_mailer.script = [error]

    email_send_pending()

    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.PENDING, 1)
    assert email.next_attempt_at > timezone.now()


def test_one_failure_does_not_stop_the_others(summit, scripted_mailer):
    OutboundEmailFactory.create_batch(3, organization=summit)
    scripted_mailer.script = [None, smtplib.SMTPDataError(554, b"Rejected"), None]

    assert email_send_pending() == 2

    statuses = sorted(OutboundEmail.objects.values_list("status", flat=True))
    assert statuses == [EmailStatus.FAILED, EmailStatus.SENT, EmailStatus.SENT]


def test_an_unreachable_server_stops_the_run_after_one_attempt(summit, scripted_mailer):
    OutboundEmailFactory.create_batch(3, organization=summit)
    scripted_mailer.refuse_connections = True

    assert email_send_pending() == 0

    assert sorted(OutboundEmail.objects.values_list("attempts", flat=True)) == [0, 0, 1]
    assert set(OutboundEmail.objects.values_list("status", flat=True)) == {EmailStatus.PENDING}


def test_a_claim_held_by_a_live_sender_is_left_alone_until_its_lease_expires(summit, clock):
    """A sender died mid-send: its row stays `sending` until the lease runs out, then is sent again."""
    email = OutboundEmailFactory(
        organization=summit,
        status=EmailStatus.SENDING,
        attempts=1,
        claim_token="dead-sender",
        claimed_until=timezone.now() + LEASE,
    )

    assert email_send_pending() == 0
    clock.shift(LEASE)
    assert email_send_pending() == 1

    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.SENT, 2)


def test_a_message_whose_senders_keep_dying_fails_instead_of_looping(summit, settings):
    email = OutboundEmailFactory(
        organization=summit,
        status=EmailStatus.SENDING,
        attempts=settings.OUTBOX_MAX_ATTEMPTS,
        claim_token="dead-sender",
        claimed_until=timezone.now() - timedelta(seconds=1),
    )
    other = OutboundEmailFactory(organization=summit)

    assert email_send_pending() == 1

    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED
    assert "stopped mid-send" in email.last_error
    assert message_ids() == [other.message_id]


def test_a_sender_whose_lease_was_taken_over_cannot_overwrite_the_outcome(summit, scripted_mailer, clock):
    """A is so slow that its lease passes to B, which delivers; A's late failure changes nothing."""
    email = OutboundEmailFactory(organization=summit)

    def sender_b_takes_over():
        clock.shift(LEASE + timedelta(seconds=1))
        assert email_send_pending() == 1
        return smtplib.SMTPServerDisconnected("A's connection dropped")

    scripted_mailer.script = [sender_b_takes_over, None]

    email_send_pending()

    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == (EmailStatus.SENT, 2, "")
    assert message_ids() == [email.message_id]


def test_a_confidential_body_is_erased_once_sent(summit):
    email = OutboundEmailFactory(organization=summit, confidential=True)

    email_send_pending()

    email.refresh_from_db()
    assert (email.status, email.body_text, email.body_html) == (EmailStatus.SENT, "", "")
    assert "dizziness" in mail.outbox[0].body


def test_retry_queues_a_failed_email_now_with_fresh_attempts(summit, settings):
    email = OutboundEmailFactory(
        organization=summit,
        status=EmailStatus.FAILED,
        attempts=settings.OUTBOX_MAX_ATTEMPTS,
        next_attempt_at=timezone.now() - timedelta(days=1),
        last_error="SMTPDataError: (554, b'Rejected')",
    )

    email_retry(email=email)
    assert email_send_pending() == 1

    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.SENT, 1)


@pytest.mark.parametrize("status", [EmailStatus.PENDING, EmailStatus.SENT, EmailStatus.SUPPRESSED])
def test_only_a_failed_email_can_be_retried(summit, status):
    email = OutboundEmailFactory(organization=summit, status=status)

    with pytest.raises(ValidationError, match="Only a failed email"):
        email_retry(email=email)
    email.refresh_from_db()
    assert email.status == status


def test_the_senders_queries_grow_by_a_constant_per_message(summit):
    def queries_to_send(count: int) -> int:
        OutboundEmailFactory.create_batch(count, organization=summit)
        with CaptureQueriesContext(connection) as queries:
            email_send_pending()
        return len(queries)

    idle, one, ten = queries_to_send(0), queries_to_send(1), queries_to_send(10)

    # Claim (select, update) and record (update), plus savepoints in the test's transaction.
    assert one - idle <= 5
    assert ten - idle == 10 * (one - idle)


@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_never_send_a_message_twice(scripted_mailer):
    organization = OrganizationFactory()
    emails = OutboundEmailFactory.create_batch(20, organization=organization)
    scripted_mailer.delay = 0.02  # long enough for the two to interleave
    counts = []

    def sender():
        try:
            counts.append(email_send_pending())
        finally:
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(counts) == 20
    assert all(count > 0 for count in counts), "one sender did all the work: no interleaving was tested"
    assert sorted(message_ids()) == sorted(email.message_id for email in emails)
    assert set(OutboundEmail.objects.values_list("status", flat=True)) == {EmailStatus.SENT}


def test_a_long_list_unsubscribe_url_is_not_encoded_away(summit, settings):
    """Python's email package would RFC 2047-encode a header word longer than 78 characters."""
    url = f"{settings.SITE_URL}/email/unsubscribe/{'x' * 43}/"
    OutboundEmailFactory(organization=summit, headers={"List-Unsubscribe": f"<{url}>"})

    email_send_pending()

    wire = mail.outbox[0].message(policy=email_policy.SMTP).as_bytes()
    assert f"List-Unsubscribe: <{url}>\r\n".encode() in wire
