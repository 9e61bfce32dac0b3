"""Real Celery workers deliver the outbox to a real SMTP server.

Each test starts aiosmtpd on a free local port and one or more worker
processes on the configured broker (Redis when REDIS_URL is set, kombu's
filesystem transport otherwise) against the test database, pointed at the sink
through RAPPORT_TEST_EMAIL_URL (see config/settings/test.py). Messages are
matched by Message-ID.

Besides the kick each commit sends, the tests tick `outbox.send_pending` every
second, as beat does every minute: another test run sharing the broker may
take a kick, and a lease that runs out is only noticed by the next sweep.

What is proved and what cannot be: a worker killed before the server accepted
a message's data leaves its row `sending`; once the lease runs out another
worker sends it, and every message arrives exactly once. A worker killed after
the server accepted the data but before the database recorded it would send
that message twice: no SMTP client can close that window, it is only made
narrow (the record is one UPDATE right after the server's reply), and every
attempt carries the same Message-ID so that receiving systems can recognise
the copy. The kill test therefore holds the sink in RCPT, before any data,
when it kills the worker.
"""

import time
import uuid
from collections import Counter

import pytest
from django.db import transaction

from outbox.models import EmailStatus, OutboundEmail
from outbox.services import email_enqueue
from outbox.tasks import send_pending
from tests.delivery import wait_until

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def enqueue_announcements(organization, count: int) -> list[OutboundEmail]:
    with transaction.atomic():
        return [
            email_enqueue(
                organization=organization,
                kind="service_announcement",
                idempotency_key=f"delivery-test:{uuid.uuid4()}",
                to=f"physician{number}@example.com",
                template="outbox_test/announcement",
                context={"physician": f"Doe {number}", "clinic": "Summit PT", "program": "dry needling"},
                unsubscribe=True,
            )
            for number in range(count)
        ]


def sent_count() -> int:
    return OutboundEmail.objects.filter(status=EmailStatus.SENT).count()


@pytest.mark.usefixtures("email_templates")
def test_a_worker_delivers_each_message_exactly_once(smtp_sink, workers, summit):
    sink, url = smtp_sink()
    worker = workers(url)

    emails = enqueue_announcements(summit, 5)
    wait_until(lambda: sent_count() == 5, timeout=25, worker=worker, what="5 emails were not sent")
    send_pending.delay()  # one more sweep finds nothing to send again
    time.sleep(1)

    expected = {email.message_id for email in emails}
    assert Counter(sink.message_ids) == dict.fromkeys(expected, 1)
    received = {message["Message-ID"]: message for message in sink.messages}
    for row in OutboundEmail.objects.all():
        message = received[row.message_id]
        assert message["To"] == row.to_address
        assert message["Subject"] == row.subject
        assert message["List-Unsubscribe"] == row.headers["List-Unsubscribe"]
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert row.attempts == 1


@pytest.mark.usefixtures("email_templates")
def test_a_worker_killed_mid_batch_loses_and_repeats_nothing(smtp_sink, workers, summit):
    sink, url = smtp_sink(rcpt_delay=0.25, hold_after=5)
    first = workers(url)
    emails = enqueue_announcements(summit, 20)

    # Kill the worker while the sink holds the 6th message in RCPT, before its data.
    wait_until(sink.holding.is_set, timeout=25, worker=first, what="the worker did not reach the 6th message")
    first.kill()
    first.wait(timeout=10)
    sink.released.set()
    stranded = OutboundEmail.objects.get(status=EmailStatus.SENDING)
    assert sent_count() == 5

    second = workers(url)
    wait_until(lambda: sent_count() == 20, timeout=30, worker=second, what="20 emails were not all sent")

    assert Counter(sink.message_ids) == dict.fromkeys((email.message_id for email in emails), 1)
    stranded.refresh_from_db()
    assert (stranded.status, stranded.attempts) == (EmailStatus.SENT, 2)
