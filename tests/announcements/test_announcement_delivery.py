"""End to end: an announcement reaches each matching source exactly once, even across a killed worker.

The admin's announcement is sent through the real service, a real Celery
worker delivers it to a real SMTP server (tests/delivery.py) and is killed in
the middle of the batch, and a second worker finishes it.
"""

import uuid
from collections import Counter

import pytest

from announcements.services import announcement_send
from outbox.models import EmailStatus, OutboundEmail
from outreach.models import Touch, TouchKind
from tests.delivery import wait_until

from ..factories import PhysicianFactory, ServiceOfferingFactory

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

SPORTS_MEDICINE = "207QS0010X"


def sent_count() -> int:
    return OutboundEmail.objects.filter(status=EmailStatus.SENT).count()


def test_each_source_gets_the_announcement_once_across_a_killed_worker(
    smtp_sink, workers, summit, summit_admin
):
    audience = [
        PhysicianFactory(organization=summit, taxonomy_code=SPORTS_MEDICINE, email=f"sports{n}@example.org")
        for n in range(12)
    ]
    PhysicianFactory(organization=summit, taxonomy_code="207R00000X", email="internist@example.org")
    offering = ServiceOfferingFactory(organization=summit, name="Return-to-sport testing")
    sink, url = smtp_sink(rcpt_delay=0.1, hold_after=4)
    first = workers(url)
    request_key = uuid.uuid4()

    def send():
        return announcement_send(
            organization=summit,
            user=summit_admin.user,
            offering=offering,
            subject="New at Summit: return-to-sport testing",
            message="Objective testing before your athletes go back to play.",
            taxonomy_codes=[SPORTS_MEDICINE],
            population_ids=[],
            request_key=request_key,
        )

    announcement = send()
    wait_until(sink.holding.is_set, timeout=25, worker=first, what="the worker did not reach the 5th email")
    first.kill()
    first.wait(timeout=10)
    sink.released.set()
    assert send() == announcement  # the form submitted again while the worker was down
    second = workers(url)
    wait_until(lambda: sent_count() == 12, timeout=30, worker=second, what="12 emails were not all sent")

    received = Counter(message["To"] for message in sink.messages)
    assert received == {physician.email: 1 for physician in audience}
    assert Counter(sink.message_ids) == {email.message_id: 1 for email in OutboundEmail.objects.all()}
    touches = Touch.objects.filter(kind=TouchKind.SERVICE_ANNOUNCEMENT)
    assert sorted(touch.physician_id for touch in touches) == sorted(physician.pk for physician in audience)
    assert all(message["List-Unsubscribe"] for message in sink.messages)
