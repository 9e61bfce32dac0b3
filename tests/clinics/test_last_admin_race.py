"""Two admins taking each other's admin role away at the same moment: one of them must be refused.

Each change runs in its own thread, on its own database connection, in its
own transaction. On PostgreSQL the two transactions are made to overlap: both
have begun and locked the membership they change before either checks that
another admin remains, and the first to pass the check waits (briefly) for
the other to pass it too before it writes. Without a lock around the check
both would pass it and the organization would be left with no admin. SQLite
admits one writing transaction at a time (BEGIN IMMEDIATE), so there the
second only begins once the first has ended and the test runs unsynchronized.
"""

import contextlib
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from clinics import services
from clinics.models import Membership, Role

from ..factories import MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db(transaction=True)


def demote(membership: Membership, acting: Membership) -> None:
    services.membership_update(
        membership=membership, acting_user=acting.user, role=Role.THERAPIST, home_clinic=None
    )


def deactivate(membership: Membership, acting: Membership) -> None:
    services.membership_deactivate(membership=membership, acting_user=acting.user)


@pytest.mark.parametrize(
    ("first", "second"),
    [(demote, demote), (deactivate, deactivate), (demote, deactivate)],
    ids=["demote each other", "deactivate each other", "one demotes, one deactivates"],
)
def test_two_admins_removing_each_other_at_once_leave_one_admin(monkeypatch, first, second):
    organization = OrganizationFactory()
    ana, ben = MembershipFactory.create_batch(2, organization=organization, role=Role.ADMIN)
    overlapping = connection.vendor == "postgresql"
    both_begun = threading.Barrier(2 if overlapping else 1, timeout=30)
    both_checked = threading.Barrier(2 if overlapping else 1, timeout=1)
    check = services._ensure_another_active_admin

    def check_at_the_same_moment(membership: Membership) -> None:
        both_begun.wait()
        check(membership)
        # With the lock, the other cannot reach its check until this one commits: the wait breaks.
        with contextlib.suppress(threading.BrokenBarrierError):
            both_checked.wait()

    monkeypatch.setattr(services, "_ensure_another_active_admin", check_at_the_same_moment)
    outcomes: dict[str, str] = {}

    def run(name, change, membership, acting):
        try:
            change(membership, acting)
            outcomes[name] = "done"
        except ValidationError as error:
            outcomes[name] = " ".join(error.messages)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=("ana removes ben", first, ben, ana)),
        threading.Thread(target=run, args=("ben removes ana", second, ana, ben)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes.values()) == [
        "An organization needs at least one active admin. Make someone else an admin first.",
        "done",
    ]
    admins = Membership.objects.filter(organization=organization, role=Role.ADMIN, is_active=True)
    assert admins.count() == 1
    if overlapping:
        assert not both_begun.broken, "the two transactions never overlapped: no race was tested"
        assert both_checked.broken, "both passed the check before either committed"
