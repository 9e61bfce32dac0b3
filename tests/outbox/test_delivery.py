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

import asyncio
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from django.db import transaction

from outbox.models import EmailStatus, OutboundEmail
from outbox.services import email_enqueue
from outbox.tasks import send_pending
from tests.celery_workers import purge_broker, start_worker

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

LEASE_SECONDS = 3


class Sink:
    """An SMTP server's handler that keeps each accepted message's Message-ID.

    `rcpt_delay` makes it slow; with `hold_after` set it stops in RCPT (before
    the message's data) once that many messages were accepted, until released.
    """

    def __init__(self, rcpt_delay: float = 0.0, hold_after: int | None = None):
        self.rcpt_delay = rcpt_delay
        self.hold_after = hold_after
        self.message_ids: list[str] = []
        self.messages: list[Message] = []
        self.holding = threading.Event()
        self.released = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        await asyncio.sleep(self.rcpt_delay)
        if self.hold_after is not None and len(self.message_ids) >= self.hold_after:
            self.holding.set()
            while not self.released.is_set():
                await asyncio.sleep(0.05)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content)
        self.messages.append(message)
        self.message_ids.append(message["Message-ID"])
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_sink():
    controllers = []

    def start(**options) -> tuple[Sink, str]:
        sink = Sink(**options)
        controller = Controller(sink, hostname="127.0.0.1", port=free_port())
        controller.start()
        controllers.append((sink, controller))
        return sink, f"smtp://127.0.0.1:{controller.port}"

    yield start
    for sink, controller in controllers:
        sink.released.set()
        controller.stop()


@pytest.fixture
def workers(tmp_path):
    """Starts worker processes that deliver to an SMTP URL; each one's output goes to a log file."""
    purge_broker()
    started = []

    def start(email_url: str) -> subprocess.Popen:
        name = f"outbox-test-{uuid.uuid4().hex[:8]}"
        log = (tmp_path / f"{name}.log").open("w")
        process = start_worker(
            env={"RAPPORT_TEST_EMAIL_URL": email_url, "OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS)},
            hostname=name,
            stdout=log,
        )
        process.log_path = log.name
        started.append((process, log))
        return process

    yield start
    for process, log in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


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


def wait_until(condition, *, timeout: float, worker: subprocess.Popen, what: str, tick: bool = True) -> None:
    deadline = time.monotonic() + timeout
    next_tick = time.monotonic() + 1
    while not condition():
        assert worker.poll() is None, f"the worker exited: see {worker.log_path}"
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s; worker log: {worker.log_path}"
        if tick and time.monotonic() >= next_tick:
            send_pending.delay()
            next_tick = time.monotonic() + 1
        time.sleep(0.05)


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
