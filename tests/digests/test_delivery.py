"""Real Celery workers and a real SMTP server: each person's digest of a week arrives exactly once.

The beat job (`digests.send_due`) runs in worker processes against the test
database (tests/delivery.py): twice in a row, on two workers at once, and on a
worker killed in the middle of a batch. A batch claims its rows and queues
their emails in one transaction, so a worker killed before it commits leaves
the rows due and nothing queued, and the next tick sends each digest once;
the outbox then delivers each email once.
"""

import datetime
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from clinics.clock import person_zone
from clinics.models import Role
from digests.models import DigestPreference
from digests.schedule import digest_week
from digests.selectors import digest_key
from digests.services import digest_preferences_ensure
from digests.tasks import send_due
from outbox.models import EmailStatus, OutboundEmail
from tests.delivery import wait_until

from ..factories import MembershipFactory, ReferralFactory

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

PEOPLE = 6


@pytest.fixture
def due(summit):
    """Two therapists, two liaisons and two admins whose digests came due a minute ago."""
    members = []
    for role in (Role.THERAPIST, Role.LIAISON, Role.ADMIN):
        for _ in range(2):
            member = MembershipFactory(organization=summit, role=role)
            members.append(member)
            if role == Role.THERAPIST:
                ReferralFactory(
                    organization=summit,
                    therapist=member.user,
                    patient_first_name="Maria",
                    patient_last_name="Lopez",
                    received_at=timezone.now() - datetime.timedelta(days=7),
                )
    digest_preferences_ensure(now=timezone.now())
    DigestPreference.objects.update(next_digest_at=timezone.now() - datetime.timedelta(minutes=1))
    return members


def sent() -> int:
    return OutboundEmail.objects.filter(kind="weekly_digest", status=EmailStatus.SENT).count()


def assert_each_digest_once(sink, members):
    emails = OutboundEmail.objects.filter(kind="weekly_digest")
    assert Counter(emails.values_list("to_address", flat=True)) == {m.user.email: 1 for m in members}
    assert Counter(sink.message_ids) == {email.message_id: 1 for email in emails}
    for message in sink.messages:
        assert "Lopez" not in message.as_string()
        assert "Maria" not in message["Subject"]
        assert message["List-Unsubscribe"]


def test_the_job_run_twice_and_on_two_workers_at_once_sends_each_digest_once(smtp_sink, workers, due):
    sink, url = smtp_sink()
    first, _second = workers(url), workers(url)

    for _ in range(3):
        send_due.delay()
    wait_until(lambda: sent() == PEOPLE, timeout=60, worker=first, what=f"{PEOPLE} digests were not sent")
    send_due.delay()  # one more tick finds nothing due
    time.sleep(2)

    assert_each_digest_once(sink, due)


def test_a_worker_killed_mid_batch_leaves_nothing_and_the_next_tick_sends_each_digest_once(
    smtp_sink, workers, summit, due
):
    sink, url = smtp_sink()
    first = workers(url)
    log = Path(first.log_path)
    wait_until(lambda: "ready." in log.read_text(), timeout=30, worker=first, what="no start", tick=False)
    before = dict(DigestPreference.objects.values_list("pk", "next_digest_at"))

    # Queue, uncommitted, an email under one person's key: the worker's batch, once it has claimed its
    # rows and built the digests, waits on that key (on SQLite, on the write lock before it claims).
    with transaction.atomic():
        blocker = due[0]
        week = DigestPreference.objects.get(membership=blocker).next_digest_at
        OutboundEmail.objects.create(
            organization=summit,
            kind="blocker",
            idempotency_key=digest_key(
                organization_id=summit.pk,
                user_id=blocker.user_id,
                week=digest_week(week, person_zone(blocker)),
            ),
            to_address="blocker@example.com",
            subject="held",
        )
        send_due.delay()
        wait_until(
            lambda: "digests.send_due" in log.read_text(),
            timeout=20,
            worker=first,
            what="the worker did not take the sweep",
            tick=False,
        )
        time.sleep(2)
        assert "succeeded" not in log.read_text()  # still waiting, mid-batch
        first.kill()
        first.wait(timeout=10)
        transaction.set_rollback(True)
    assert not OutboundEmail.objects.exists()
    assert dict(DigestPreference.objects.values_list("pk", "next_digest_at")) == before

    second = workers(url)
    send_due.delay()  # beat's next tick
    wait_until(lambda: sent() == PEOPLE, timeout=60, worker=second, what=f"{PEOPLE} digests were not sent")
    send_due.delay()
    time.sleep(2)

    assert_each_digest_once(sink, due)
