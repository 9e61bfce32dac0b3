"""The time-zone rule (clinics/clock.py), pinned around midnight in two zones.

The moment used throughout: 23:30 in Los Angeles on Monday March 16, 2026,
which is already 06:30 UTC on Tuesday the 17th, 00:30 in Denver (the
server's TIME_ZONE) and 02:30 in New York.
"""

import datetime
import zoneinfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from clinics import clock
from clinics.models import Role
from clinics.services import organization_update
from outreach.flags import flags_update
from outreach.models import Flag, FlagKind, FlagSeverity
from outreach.services import calendar_feed_reset, followup_snooze
from referrals.plans import PlanStatus

from ..factories import (
    ClinicFactory,
    FollowUpFactory,
    PhysicianFactory,
    PlanOfCareFactory,
    ReferralFactory,
    TouchFactory,
)

LOS_ANGELES = zoneinfo.ZoneInfo("America/Los_Angeles")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
LATE_IN_LA = datetime.datetime(2026, 3, 16, 23, 30, tzinfo=LOS_ANGELES)
LA_TODAY = datetime.date(2026, 3, 16)
NEXT_DAY = datetime.date(2026, 3, 17)


@pytest.fixture
def pacific(summit):
    """Summit, run from Los Angeles, while the server keeps Denver time."""
    summit.timezone = "America/Los_Angeles"
    summit.save()
    return summit


def test_the_moment_straddles_midnight():
    assert LATE_IN_LA.astimezone(datetime.UTC) == datetime.datetime(2026, 3, 17, 6, 30, tzinfo=datetime.UTC)
    assert clock.local_date(LATE_IN_LA, LOS_ANGELES) == LA_TODAY
    assert clock.local_date(LATE_IN_LA, NEW_YORK) == NEXT_DAY


def test_a_persons_zone_is_their_own_else_their_home_clinics_else_the_organizations(pacific, member_factory):
    boston = ClinicFactory(organization=pacific, timezone="America/New_York")
    nobody_set_anything = member_factory(pacific)
    at_boston = member_factory(pacific, home_clinic=boston)
    chose_their_own = member_factory(pacific, home_clinic=boston, timezone="America/Chicago")

    assert clock.person_zone(nobody_set_anything) == LOS_ANGELES
    assert clock.person_zone(at_boston) == NEW_YORK
    assert clock.person_zone(chose_their_own) == zoneinfo.ZoneInfo("America/Chicago")
    assert clock.person_today(nobody_set_anything, now=LATE_IN_LA) == LA_TODAY
    assert clock.person_today(at_boston, now=LATE_IN_LA) == NEXT_DAY
    assert clock.organization_today(pacific, now=LATE_IN_LA) == LA_TODAY


def test_a_day_is_bounded_by_local_midnights_also_across_daylight_saving():
    start, end = clock.local_day_bounds(datetime.date(2026, 3, 8), LOS_ANGELES)  # clocks go forward

    assert start == datetime.datetime(2026, 3, 8, 8, 0, tzinfo=datetime.UTC)
    assert end.astimezone(datetime.UTC) - start.astimezone(datetime.UTC) == datetime.timedelta(hours=23)
    assert clock.week_start(datetime.date(2026, 3, 15)) == datetime.date(2026, 3, 9)  # Sunday → Monday
    assert clock.recent_weeks(datetime.date(2026, 3, 16), 2) == [
        datetime.date(2026, 3, 16),
        datetime.date(2026, 3, 9),
    ]


@time_machine.travel(LATE_IN_LA, tick=False)
def test_a_follow_up_due_today_in_los_angeles_is_due_today_not_overdue(
    client, login, pacific, member_factory
):
    liaison = member_factory(pacific, Role.LIAISON)  # no home clinic, no zone of their own
    due_today = FollowUpFactory(organization=pacific, owner=liaison.user, due_on=LA_TODAY)
    login(liaison)

    groups = client.get(reverse("outreach:followups")).context["groups"]

    assert groups.today == [due_today]
    assert groups.overdue == []


@time_machine.travel(LATE_IN_LA, tick=False)
def test_the_same_follow_up_is_overdue_for_someone_in_new_york(client, login, pacific, member_factory):
    liaison = member_factory(pacific, Role.LIAISON, timezone="America/New_York")
    due = FollowUpFactory(organization=pacific, owner=liaison.user, due_on=LA_TODAY)
    login(liaison)

    groups = client.get(reverse("outreach:followups")).context["groups"]

    assert groups.overdue == [due]
    assert groups.today == []


@time_machine.travel(LATE_IN_LA, tick=False)
def test_snoozing_to_the_owners_today_is_allowed_and_to_yesterday_is_not(pacific, member_factory):
    liaison = member_factory(pacific, Role.LIAISON)
    follow_up = FollowUpFactory(organization=pacific, owner=liaison.user, due_on=datetime.date(2026, 3, 10))

    followup_snooze(follow_up=follow_up, acting=liaison, until=LA_TODAY)  # the server's yesterday

    with pytest.raises(ValidationError, match="today or a later date"):
        followup_snooze(follow_up=follow_up, acting=liaison, until=LA_TODAY - datetime.timedelta(days=1))


@time_machine.travel(LATE_IN_LA, tick=False)
def test_the_calendar_feed_counts_its_month_back_from_the_persons_today(client, pacific, member_factory):
    liaison = member_factory(pacific, Role.LIAISON)
    token = calendar_feed_reset(organization=pacific, user=liaison.user)
    oldest_shown = LA_TODAY - datetime.timedelta(days=30)
    FollowUpFactory(organization=pacific, owner=liaison.user, due_on=oldest_shown)

    feed = client.get(reverse("outreach:calendar_feed", args=[token])).content.decode()

    assert f"DTSTART;VALUE=DATE:{oldest_shown:%Y%m%d}" in feed


def test_flags_count_days_in_the_organizations_zone_whoever_runs_them(pacific, harbor):
    """At the same instant a source is 14 days from contact in Los Angeles and 15 in New York."""
    harbor.timezone = "America/New_York"
    harbor.save()
    contacted = datetime.datetime(2026, 3, 2, 20, 0, tzinfo=LOS_ANGELES)  # 23:00 in New York, same day
    sources = {}
    for organization in (pacific, harbor):
        physician = PhysicianFactory(organization=organization, stage="maintaining", tier="A")
        TouchFactory(organization=organization, physician=physician, occurred_at=contacted)
        sources[organization.slug] = physician

    with time_machine.travel(LATE_IN_LA, tick=False):
        for organization in (pacific, harbor):
            flags_update(organization=organization)

    severity = {
        flag.physician_id: flag.severity for flag in Flag.objects.filter(kind=FlagKind.CONTACT_LAPSED)
    }
    assert severity[sources[pacific.slug].pk] == FlagSeverity.DUE_SOON  # 14 days: due, not yet overdue
    assert severity[sources[harbor.slug].pk] == FlagSeverity.OVERDUE  # 15 days


@time_machine.travel(LATE_IN_LA, tick=False)
def test_a_plan_of_care_is_overdue_by_the_organizations_calendar(client, login, pacific, member_factory):
    """Signature due 30 days after the first treatment day: the 16th in Los Angeles is not yet late."""
    desk = member_factory(pacific, Role.FRONT_DESK, timezone="America/New_York")
    plan = PlanOfCareFactory(
        organization=pacific,
        referral=ReferralFactory(organization=pacific),
        starts_on=LA_TODAY - datetime.timedelta(days=30),
    )
    login(desk)

    groups = client.get(reverse("referrals:plans_awaiting")).context["groups"]

    [row] = [row for group in groups for row in group.rows]
    assert row.plan == plan
    assert row.state.status != PlanStatus.OVERDUE


def test_an_admin_sets_the_organizations_time_zone(admin_client, summit):
    page = admin_client.get(reverse("clinics:organization_settings")).content.decode()
    assert 'name="organization-timezone"' in page

    response = admin_client.post(
        reverse("clinics:organization_settings"),
        {
            "organization-name": summit.name,
            "organization-timezone": "America/Los_Angeles",
            "referrals-contact_sla_business_days": 1,
            "referrals-unreachable_after_attempts": 3,
            "referrals-patient_details_retention_years": 7,
            "referrals-poc_signature_days": 30,
            "referrals-poc_certification_days": 90,
            "outreach-cadence_tier_a_days": 14,
            "outreach-cadence_tier_b_days": 30,
            "outreach-cadence_tier_c_days": 60,
            "letters-loop_days": 7,
            "letters-link_valid_days": 30,
            "audit-retention_years": 6,
        },
    )

    assert response.status_code == 302
    summit.refresh_from_db()
    assert summit.timezone == "America/Los_Angeles"


def test_an_unknown_time_zone_is_refused_with_a_message(admin_client, summit):
    response = admin_client.post(
        reverse("clinics:organization_settings"),
        {"organization-name": summit.name, "organization-timezone": "Mars/Olympus_Mons"},
    )
    assert response.status_code == 200
    [organization_form] = [
        form for section, form in response.context["sections"] if section.key == "organization"
    ]
    assert "Mars/Olympus_Mons" in str(organization_form.errors["timezone"])

    with pytest.raises(ValidationError, match="not a known time zone"):
        organization_update(organization=summit, name=summit.name, timezone="Mars/Olympus_Mons")


def test_an_admin_gives_a_person_their_own_time_zone(admin_client, summit, member_factory):
    therapist = member_factory(summit, Role.THERAPIST)

    response = admin_client.post(
        reverse("clinics:staff_edit", args=[therapist.pk]),
        {"role": Role.THERAPIST, "home_clinic": "", "timezone": "America/Chicago"},
    )

    assert response.status_code == 302
    therapist.refresh_from_db()
    assert therapist.timezone == "America/Chicago"


@pytest.mark.parametrize(("own_zone", "hour"), [("", 23), ("America/New_York", 2)])
def test_a_form_starts_from_now_in_the_persons_zone(client, login, pacific, member_factory, own_zone, hour):
    """The intake form's "received" is now on the person's clock: the organization's, or their own."""
    desk = member_factory(pacific, Role.FRONT_DESK, timezone=own_zone)
    login(desk)

    with time_machine.travel(LATE_IN_LA, tick=False):
        form = client.get(reverse("referrals:intake")).context["form"]

    assert (form.initial["received_at"].hour, form.initial["received_at"].minute) == (hour, 30)
