"""The sweep: due rows claimed once, one digest per person, organization and ISO week, in flat queries."""

import datetime
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinics.models import Role
from digests import services
from digests.models import DigestPreference, Section
from digests.services import digest_preference_update, digests_send_due
from outbox.models import EmailStatus, OutboundEmail
from outbox.services import email_unsubscribe

from ..factories import ClinicFactory, MembershipFactory, ReferralFactory, UserFactory
from .conftest import preference_of

DENVER = ZoneInfo("America/Denver")
KOLKATA = ZoneInfo("Asia/Kolkata")
# Wednesday December 2, 2026, noon in Denver: the defaults make the next digest Monday the 7th at 7:00.
WEDNESDAY = datetime.datetime(2026, 12, 2, 12, tzinfo=DENVER)
MONDAY_SEVEN = datetime.datetime(2026, 12, 7, 7, tzinfo=DENVER)
WEEK = datetime.timedelta(weeks=1)


def digests():
    return OutboundEmail.objects.filter(kind="weekly_digest")


@pytest.fixture
def staff(make_member, summit):
    summit.timezone = "America/Denver"
    summit.save()
    with time_machine.travel(WEDNESDAY, tick=False):
        return {
            role: make_member(role) for role in (Role.THERAPIST, Role.LIAISON, Role.ADMIN, Role.FRONT_DESK)
        }


def test_every_therapist_liaison_and_admin_gets_a_row_due_monday_at_seven_and_the_front_desk_none(staff):
    digests_send_due(now=WEDNESDAY)

    for role in (Role.THERAPIST, Role.LIAISON, Role.ADMIN):
        assert preference_of(staff[role]).next_digest_at == MONDAY_SEVEN
    assert not DigestPreference.objects.filter(membership=staff[Role.FRONT_DESK]).exists()
    assert not digests().exists()


def test_due_digests_are_queued_once_however_often_the_sweep_runs(staff):
    digests_send_due(now=WEDNESDAY)

    first = digests_send_due(now=MONDAY_SEVEN)
    again = digests_send_due(now=MONDAY_SEVEN)
    later = digests_send_due(now=MONDAY_SEVEN + datetime.timedelta(hours=3))

    assert (first, again, later) == (3, 0, 0)
    assert Counter(digests().values_list("to_address", flat=True)) == {
        staff[role].user.email: 1 for role in (Role.THERAPIST, Role.LIAISON, Role.ADMIN)
    }
    assert set(digests().values_list("idempotency_key", flat=True)) == {
        f"digest:{staff[role].organization_id}:{staff[role].user_id}:2026-W50"
        for role in (Role.THERAPIST, Role.LIAISON, Role.ADMIN)
    }
    assert preference_of(staff[Role.ADMIN]).next_digest_at == MONDAY_SEVEN + datetime.timedelta(weeks=1)
    assert preference_of(staff[Role.ADMIN]).last_week == "2026-W50"


def test_a_batch_whose_row_another_sweep_claimed_meanwhile_is_rolled_back_and_queues_nothing(
    staff, monkeypatch
):
    """Between reading the due rows and claiming them, another sweep moves one: the claim gives up."""
    digests_send_due(now=WEDNESDAY)
    moved = preference_of(staff[Role.LIAISON])
    next_at = services._next_at

    def another_sweep_claims_first(preference, *, after):
        DigestPreference.objects.filter(pk=moved.pk).update(next_digest_at=F("next_digest_at") + WEEK)
        return next_at(preference, after=after)

    monkeypatch.setattr(services, "_next_at", another_sweep_claims_first)
    assert digests_send_due(now=MONDAY_SEVEN) == 0
    monkeypatch.undo()

    assert not digests().exists()
    assert preference_of(staff[Role.THERAPIST]).next_digest_at == MONDAY_SEVEN  # still due
    assert digests_send_due(now=MONDAY_SEVEN) == 3


@pytest.mark.parametrize(
    ("start", "label"),
    [
        (datetime.datetime(2026, 2, 23, 0, tzinfo=DENVER), "spring forward (March 8)"),
        (datetime.datetime(2026, 10, 19, 0, tzinfo=DENVER), "fall back (November 1)"),
    ],
)
def test_hourly_sweeps_across_a_change_of_offset_send_one_digest_a_week_at_seven_on_each_clock(
    summit, label, start
):
    summit.timezone = "America/Denver"
    summit.save()
    with time_machine.travel(start, tick=False):
        denver = MembershipFactory(organization=summit, role=Role.THERAPIST)
        kolkata = MembershipFactory(organization=summit, role=Role.LIAISON, timezone="Asia/Kolkata")
        digests_send_due()
    sent_at: dict[str, list[datetime.datetime]] = {denver.user.email: [], kolkata.user.email: []}
    moment = start
    for _ in range(4 * 7 * 24):  # four weeks, every hour, as a beat that ticks on time
        moment += datetime.timedelta(hours=1)
        with time_machine.travel(moment, tick=False):
            before = set(digests().values_list("pk", flat=True))
            digests_send_due()
            for email in digests().exclude(pk__in=before):
                sent_at[email.to_address].append(timezone.now())

    for email, zone in ((denver.user.email, DENVER), (kolkata.user.email, KOLKATA)):
        local = [moment.astimezone(zone) for moment in sent_at[email]]
        assert len(local) == 4, label
        assert all(m.weekday() == 0 and m.hour == 7 for m in local), (label, local)
        assert len({m.isocalendar()[:2] for m in local}) == 4, label
    assert digests().count() == 8


def test_preferences_move_the_next_digest_and_leave_out_the_sections_turned_off(staff):
    therapist = staff[Role.THERAPIST]
    with time_machine.travel(WEDNESDAY, tick=False):
        preference = digest_preference_update(
            membership=therapist, enabled=True, weekday=4, hour=16, sections_off=[Section.REFERRALS]
        )
        ReferralFactory(
            organization=therapist.organization,
            therapist=therapist.user,
            received_at=WEDNESDAY - datetime.timedelta(days=7),
            patient_first_name="Maria",
            patient_last_name="Lopez",
        )

    friday = datetime.datetime(2026, 12, 4, 16, tzinfo=DENVER)
    assert preference.next_digest_at == friday
    digests_send_due(now=friday)
    email = digests().get(to_address=therapist.user.email)
    assert Section.REFERRALS.label not in email.body_text
    assert "Maria" not in email.body_text


def test_a_digest_turned_off_is_not_sent_and_one_already_sent_this_week_is_not_sent_again(staff):
    admin, liaison = staff[Role.ADMIN], staff[Role.LIAISON]
    with time_machine.travel(WEDNESDAY, tick=False):
        digest_preference_update(membership=admin, enabled=False, weekday=0, hour=7, sections_off=[])
        digest_preference_update(membership=liaison, enabled=True, weekday=2, hour=13, sections_off=[])
    digests_send_due(now=WEDNESDAY + datetime.timedelta(hours=1))
    # Then the liaison moves their day later in the same week: the week's digest is already theirs.
    with time_machine.travel(WEDNESDAY + datetime.timedelta(hours=2), tick=False):
        digest_preference_update(membership=liaison, enabled=True, weekday=4, hour=7, sections_off=[])
    digests_send_due(now=datetime.datetime(2026, 12, 4, 8, tzinfo=DENVER))

    assert preference_of(admin).next_digest_at is None
    assert not digests().filter(to_address=admin.user.email).exists()
    assert digests().filter(to_address=liaison.user.email).count() == 1


def test_unsubscribing_suppresses_the_next_digests(staff):
    therapist = staff[Role.THERAPIST]
    digests_send_due(now=WEDNESDAY)
    digests_send_due(now=MONDAY_SEVEN)
    email = digests().get(to_address=therapist.user.email)
    assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    email_unsubscribe(token=email.unsubscribe_token)
    digests_send_due(now=MONDAY_SEVEN + datetime.timedelta(weeks=1))

    assert list(
        digests()
        .filter(to_address=therapist.user.email)
        .order_by("created_at")
        .values_list("status", flat=True)
    ) == [EmailStatus.SUPPRESSED, EmailStatus.SUPPRESSED]


def test_a_person_in_two_organizations_gets_one_digest_from_each_labelled(summit, harbor):
    person = UserFactory(first_name="Avery")
    with time_machine.travel(WEDNESDAY, tick=False):
        MembershipFactory(organization=summit, user=person, role=Role.ADMIN)
        MembershipFactory(organization=harbor, user=person, role=Role.ADMIN)
        digests_send_due()
    digests_send_due(now=MONDAY_SEVEN + datetime.timedelta(hours=3))

    emails = digests().filter(to_address=person.email)
    assert sorted(email.organization.name for email in emails) == ["Harbor Rehab", "Summit Physical Therapy"]
    for email in emails:
        assert email.organization.name in email.subject
        assert f"/digests/{email.organization_id}/" in email.body_text


def test_the_sweep_costs_the_same_for_one_recipient_of_each_role_as_for_a_hundred(summit):
    """Flat per batch: the sections are read for the organization once and split by person in Python."""
    summit.timezone = "America/Denver"
    summit.save()
    clinic = ClinicFactory(organization=summit)

    def staff_with_work(count: int) -> None:
        for _ in range(count):
            therapist = MembershipFactory(organization=summit, role=Role.THERAPIST, home_clinic=clinic)
            ReferralFactory(
                organization=summit,
                clinic=clinic,
                therapist=therapist.user,
                received_at=WEDNESDAY - datetime.timedelta(days=7),
            )
            MembershipFactory(organization=summit, role=Role.LIAISON)
            MembershipFactory(organization=summit, role=Role.ADMIN)

    def queries_for_a_week(week: int) -> int:
        monday = MONDAY_SEVEN + datetime.timedelta(weeks=week)
        with CaptureQueriesContext(connection) as captured:
            queued = digests_send_due(now=monday, batch_size=300)
        assert queued == digests().filter(created_at__gte=monday - datetime.timedelta(hours=1)).count()
        return len(captured.captured_queries)

    with time_machine.travel(WEDNESDAY, tick=False):
        staff_with_work(1)
        digests_send_due()
    # The first week also makes the organization's settings rows of the apps read; the second is the measure.
    with time_machine.travel(MONDAY_SEVEN, tick=False):
        queries_for_a_week(0)
    with time_machine.travel(MONDAY_SEVEN + datetime.timedelta(weeks=1), tick=False):
        one = queries_for_a_week(1)
    with time_machine.travel(WEDNESDAY + datetime.timedelta(weeks=1), tick=False):
        staff_with_work(99)
        digests_send_due()  # the new people's rows, due next Monday
    with time_machine.travel(MONDAY_SEVEN + datetime.timedelta(weeks=2), tick=False):
        hundred = queries_for_a_week(2)

    assert digests().count() == 3 + 3 + 300
    assert hundred == one
