"""Announcements sent before the app split survive the move out of outreach, row for row, and back."""

import uuid

from outreach.models import TouchKind

BEFORE = [("outreach", "0003_revoke_calendar_feeds_of_lost_access"), ("announcements", None)]
AFTER = [("announcements", "0002_own_table_names")]


def test_announcements_and_their_touches_survive_the_move(scratch_database):
    apps = scratch_database.migrate_to(BEFORE)
    OldOrganization = apps.get_model("clinics", "Organization")
    summit = OldOrganization.objects.create(name="Summit", slug="summit")
    OldOrganization.objects.create(name="Harbor", slug="harbor")
    clinic = apps.get_model("clinics", "Clinic").objects.create(organization_id=summit.pk, name="Downtown")
    offering = apps.get_model("clinics", "ServiceOffering").objects.create(
        organization_id=summit.pk, clinic_id=clinic.pk, name="Return to sport"
    )
    admin = apps.get_model("accounts", "User").objects.create(username="summit.admin")
    doctors = [
        apps.get_model("physicians", "Physician").objects.create(
            organization_id=summit.pk, first_name="Doctor", last_name=str(n)
        )
        for n in range(3)
    ]
    # Seeded by clinics' own migration, as in a real database.
    sports = apps.get_model("clinics", "Population").objects.get(code="sports")
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

    apps = scratch_database.migrate_to(AFTER)

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
    tables = scratch_database.table_names()
    assert {"announcements_serviceannouncement", "announcements_serviceannouncement_populations"} <= tables
    assert not {name for name in tables if name.startswith("outreach_serviceannouncement")}
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

    apps = scratch_database.migrate_to(BEFORE)

    touches = apps.get_model("outreach", "Touch").objects.order_by("pk")
    assert [(touch.pk, touch.announcement_id) for touch in touches] == [
        *[(touch.pk, sent.pk) for touch in announced],
        (call.pk, None),
    ]
    assert apps.get_model("outreach", "ServiceAnnouncement").objects.get().populations.count() == 1
