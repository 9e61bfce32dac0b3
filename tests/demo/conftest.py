"""The demo, seeded once for every test in this package.

Seeding takes several seconds, and a dozen tests only read it, so the demo
is seeded once when the first of them runs, inside a transaction rolled back
when the last one is done: no test outside this package ever sees a demo
row. Each test runs in a savepoint within that transaction, so one that
changes or re-seeds the demo leaves it as it was for the next. Tests that
must seed at another moment (tests/test_any_day.py) seed their own.
"""

from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from clinics.models import Organization


@pytest.fixture(scope="package")
def seeded_at(django_db_setup, django_db_blocker):
    """The moment the demo was seeded, with the clock stopped while it was."""
    instant = timezone.now()
    with django_db_blocker.unblock(), transaction.atomic():
        with time_machine.travel(instant, tick=False):
            call_command("seed_demo", stdout=StringIO())
        # Checked now, once: PostgreSQL would otherwise check the demo's deferred foreign keys again
        # at every test's end, since a test's rolled-back savepoint puts them back in its queue.
        connection.check_constraints()
        yield instant
        transaction.set_rollback(True)


@pytest.fixture
def demo(seeded_at, db):
    """The demo organizations by slug."""
    return {org.slug: org for org in Organization.objects.filter(slug__in=["summit", "harbor"])}
