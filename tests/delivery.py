"""Real email delivery for tests: an aiosmtpd server and Celery workers that send to it.

Registered as a plugin in tests/conftest.py, so any test module can ask for
`smtp_sink` and `workers`. Each worker is a separate process on the
configured broker (Redis when REDIS_URL is set, kombu's filesystem transport
otherwise) against the test database, pointed at the sink through
RAPPORT_TEST_EMAIL_URL (config/settings/test.py), with a short lease so a
killed worker's claim runs out quickly.
"""

import asyncio
import socket
import subprocess
import threading
import time
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller

from outbox.tasks import send_pending

from .celery_workers import purge_broker, start_logged_worker, stop_workers

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
        return start_logged_worker(
            log_folder=tmp_path,
            name="outbox-test",
            started=started,
            env={"RAPPORT_TEST_EMAIL_URL": email_url, "OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS)},
        )

    yield start
    stop_workers(started)


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
