"""Real Celery workers and a real SMTP server: each letter is composed once and its email arrives once.

The beat job (`letters.compose_due`) and the per-organization task run in
worker processes against the test database (tests/delivery.py), run twice,
on two workers at once, and on a worker killed in the middle of a sweep. The
sweep writes its letters and their emails in one transaction, so a worker
killed before it commits leaves nothing behind, and the next tick composes
everything once; the outbox then delivers each email exactly once.
"""

import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import transaction

from letters.models import Letter, LetterSettings, LetterStatus
from letters.tasks import compose_due, compose_due_for_organization
from outbox.models import EmailStatus, OutboundEmail
from physicians.models import UpdateChannel
from tests.delivery import wait_until

from .records import note

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

EMAILED = 5


@pytest.fixture
def due(summit, rules, make_physician, make_referral):
    """Five evaluations for physicians who want email, two for one who wants a fax."""
    for number in range(EMAILED):
        note(make_referral(make_physician(email=f"doc{number}@example.org"), last_name=f"Lopez{number}"))
    fax = make_physician(channel=UpdateChannel.FAX)
    for number in range(2):
        note(make_referral(fax, last_name=f"Fax{number}"))


def sent() -> int:
    return OutboundEmail.objects.filter(status=EmailStatus.SENT).count()


def assert_each_letter_and_email_once(sink):
    letters = Letter.objects.all()
    assert letters.count() == EMAILED + 2
    assert Counter(letters.values_list("status", flat=True)) == {
        LetterStatus.EMAILED: EMAILED,
        LetterStatus.TO_SEND: 2,
    }
    assert Counter(sink.message_ids) == {email.message_id: 1 for email in OutboundEmail.objects.all()}
    for message in sink.messages:
        text = message.as_string()
        assert "Lopez" not in text
        assert "Maria" not in text


def test_the_job_run_twice_and_on_two_workers_at_once_writes_each_letter_once(
    smtp_sink, workers, summit, due
):
    sink, url = smtp_sink()
    first, _second = workers(url), workers(url)

    for _ in range(3):
        compose_due_for_organization.delay(summit.pk)
        compose_due.delay()
    wait_until(
        lambda: sent() == EMAILED, timeout=40, worker=first, what=f"{EMAILED} letters were not emailed"
    )
    compose_due.delay()  # one more tick finds nothing due
    time.sleep(2)

    assert_each_letter_and_email_once(sink)


def test_a_worker_killed_mid_sweep_leaves_nothing_and_the_next_tick_writes_each_letter_once(
    smtp_sink, workers, summit, due
):
    sink, url = smtp_sink()
    first = workers(url)
    log = Path(first.log_path)
    wait_until(
        lambda: "ready." in log.read_text(),
        timeout=30,
        worker=first,
        what="the worker did not start",
        tick=False,
    )

    # Hold the organization's letter rules, which the sweep locks first: the worker's sweep waits there.
    with transaction.atomic():
        LetterSettings.objects.select_for_update().get(organization=summit)
        compose_due_for_organization.delay(summit.pk)
        wait_until(
            lambda: "letters.compose_due_for_organization" in log.read_text(),
            timeout=20,
            worker=first,
            what="the worker did not take the sweep",
            tick=False,
        )
        time.sleep(1)
        assert "succeeded" not in log.read_text()  # still waiting for the lock, mid-sweep
        first.kill()
        first.wait(timeout=10)
    assert not Letter.objects.exists()
    assert not OutboundEmail.objects.exists()

    second = workers(url)
    compose_due.delay()  # beat's next tick
    wait_until(
        lambda: sent() == EMAILED, timeout=40, worker=second, what=f"{EMAILED} letters were not emailed"
    )
    compose_due.delay()
    time.sleep(2)

    assert_each_letter_and_email_once(sink)
