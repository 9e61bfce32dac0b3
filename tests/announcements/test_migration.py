"""Announcements sent before the app split survive the move out of outreach, row for row, and back."""

import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from clinics.models import Population
from outreach.models import TouchKind

from ..factories import ClinicFactory, MembershipFactory, PhysicianFactory, ServiceOfferingFactory

BEFORE = [("outreach", "0003_revoke_calendar_feeds_of_lost_access"), ("announcements", None)]


def migrate(targets=None):
    """Migrates to `targets`, by default to the latest state; returns the models of that state."""
    executor = MigrationExecutor(connection)
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    return executor.loader.project_state([target for target in targets if target[1]]).apps


def tables() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


@pytest.mark.django_db(transaction=True)
def test_announcements_and_their_touches_survive_the_move(summit, harbor):
    # Made with today's models: clinics and physicians are the same before and after.
    offering = ServiceOfferingFactory(organization=summit, clinic=ClinicFactory(organization=summit))
    admin = MembershipFactory(organization=summit).user
    doctors = [PhysicianFactory(organization=summit) for _ in range(3)]
    # Not the seeded row: an earlier transactional test may have flushed it.
    sports, _ = Population.objects.get_or_create(
        code="sports", defaults={"name": "Sports", "adjective": "sports"}
    )
    apps = migrate(BEFORE)
    try:
        check_the_move(apps, summit, offering, admin, doctors, sports)
    finally:
        migrate()


def check_the_move(apps, summit, offering, admin, doctors, sports):
    OldAnnouncement = apps.get_model("outreach", "ServiceAnnouncement")
    OldTouch = apps.get_model("outreach", "Touch")
    key = uuid.uuid4()
    sent = OldAnnouncement.objects.create(
        organization_id=summit.pk,
        offering_id=offering.pk,
        subject="New: return to sport",
        message="Testing before athletes go back to play.",
        taxonomy_codes=["207X00000X"],
        request_key=key,
        recipient_count=2,
        created_by_id=admin.pk,
    )
    sent.populations.add(sports.pk)
    announced = [
        OldTouch.objects.create(
            organization_id=summit.pk,
            physician_id=doctor.pk,
            kind=TouchKind.SERVICE_ANNOUNCEMENT,
            occurred_at=sent.created_at,
            announcement_id=sent.pk,
        )
        for doctor in doctors[:2]
    ]
    call = OldTouch.objects.create(
        organization_id=summit.pk, physician_id=doctors[2].pk, kind="call", occurred_at=sent.created_at
    )

    apps = migrate()

    Announcement = apps.get_model("announcements", "ServiceAnnouncement")
    AnnouncementTouch = apps.get_model("announcements", "AnnouncementTouch")
    kept = Announcement.objects.get()
    assert (kept.pk, kept.subject, kept.request_key, kept.created_by_id, kept.taxonomy_codes) == (
        sent.pk,
        "New: return to sport",
        key,
        admin.pk,
        ["207X00000X"],
    )
    assert list(kept.populations.values_list("pk", flat=True)) == [sports.pk]
    assert sorted(
        AnnouncementTouch.objects.values_list("touch_id", "announcement_id", "organization_id")
    ) == [(touch.pk, sent.pk, summit.pk) for touch in announced]
    assert apps.get_model("outreach", "Touch").objects.count() == 3
    assert {"announcements_serviceannouncement", "announcements_serviceannouncement_populations"} <= tables()
    assert not {name for name in tables() if name.startswith("outreach_serviceannouncement")}
    # A new announcement gets the next id: the sequence came along with the table.
    later = Announcement.objects.create(
        organization_id=summit.pk,
        offering_id=offering.pk,
        subject="Again",
        message="-",
        request_key=uuid.uuid4(),
    )
    assert later.pk > sent.pk
    later.delete()

    apps = migrate(BEFORE)

    touches = apps.get_model("outreach", "Touch").objects.order_by("pk")
    assert [(touch.pk, touch.announcement_id) for touch in touches] == [
        *[(touch.pk, sent.pk) for touch in announced],
        (call.pk, None),
    ]
    assert apps.get_model("outreach", "ServiceAnnouncement").objects.get().populations.count() == 1
