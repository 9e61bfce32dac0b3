"""A real Celery worker, on the configured broker, against the test database.

On the embedded defaults the broker is kombu's filesystem transport; in CI's
services run it is Redis. Either way the message crosses a real broker to a
separate worker process.
"""

import time
from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.tasks import sweep_expired_sessions

from ..celery_workers import purge_broker, start_worker

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker():
    purge_broker()
    process = start_worker()
    yield process
    process.terminate()
    process.wait(timeout=30)


def test_a_real_worker_runs_the_session_sweep(worker):
    expired = SessionStore()
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - timedelta(days=1)
    )
    current = SessionStore()
    current.create()

    sweep_expired_sessions.delay()

    deadline = time.monotonic() + 60
    while Session.objects.filter(session_key=expired.session_key).exists():
        assert worker.poll() is None, worker.stdout.read()
        assert time.monotonic() < deadline, "the worker did not run the task within 60 s"
        time.sleep(0.25)
    assert Session.objects.filter(session_key=current.session_key).exists()
