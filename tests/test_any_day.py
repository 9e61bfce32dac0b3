"""The demo and every date-sensitive page hold on any day of seeding.

The demo is anchored to the moment it is seeded, so its shape (every open
step of the pipeline, late and on-time referrals, plans of care due and
overdue, follow-ups due today, overdue and next week, lapsed sources) could
depend on the weekday, a daylight-saving change or a month's end. Each case
below pins the clock to one such moment, seeds the demo once and runs the
date-sensitive checks against it. The moments are given in the server's time
zone (America/Denver); some fall on another date in UTC or in Boston, where
Harbor's clinic is, so "today" differs between the two organizations.
"""

import datetime
from collections import Counter
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from analytics import selectors as analytics
from analytics.demo import LONGER_CARE_REFERENCE
from analytics.filters import DashboardFilterForm
from billing.models import Payment, Visit
from clinics.clock import organization_today, person_today
from clinics.models import Membership, Organization
from outreach.flags import FlagChanges, flags_update
from outreach.models import Flag, FlagKind, FlagSeverity, Touch
from outreach.selectors import followups_for
from outreach.services import calendar_feed_reset
from referrals.models import (
    OPEN_STATUSES,
    AppointmentChange,
    ContactAttempt,
    PlanOfCare,
    Referral,
    Status,
    StatusChange,
)
from referrals.plans import PlanStatus
from referrals.selectors import plans_awaiting_signature, queue, referral_plans, referral_settings_get
from referrals.sla import business_days_waiting, contact_due_at

DENVER = ZoneInfo("America/Denver")
DAYS = {
    # One week, at different hours: before the clinic opens, during the day,
    # after closing, and late enough to be tomorrow in UTC and in Boston.
    "mon-month-end-early": datetime.datetime(2026, 11, 30, 6, 10, tzinfo=DENVER),
    "tue": datetime.datetime(2026, 12, 1, 12, 0, tzinfo=DENVER),
    "wed-late": datetime.datetime(2026, 12, 2, 22, 45, tzinfo=DENVER),
    "thu": datetime.datetime(2026, 12, 3, 8, 5, tzinfo=DENVER),
    "fri-after-closing": datetime.datetime(2026, 12, 4, 18, 30, tzinfo=DENVER),
    "sat": datetime.datetime(2026, 12, 5, 11, 0, tzinfo=DENVER),
    "sun-late": datetime.datetime(2026, 12, 6, 23, 15, tzinfo=DENVER),
    # Daylight-saving changes in the US: the hour after the clocks jump
    # forward, and the second of the two 1:30s when they fall back.
    "dst-spring-forward": datetime.datetime(2026, 3, 8, 3, 30, tzinfo=DENVER),
    "dst-fall-back": datetime.datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=DENVER),
    # New Year's Eve, already 2027 in UTC and in Boston.
    "year-end": datetime.datetime(2026, 12, 31, 22, 30, tzinfo=DENVER),
    "leap-day": datetime.datetime(2028, 2, 29, 9, 0, tzinfo=DENVER),
}
RECENT = datetime.timedelta(days=42)


@pytest.fixture(scope="module", params=list(DAYS))
def pinned(request, django_db_setup, django_db_blocker):
    """The pinned moment, with the demo seeded at it; the clock stays stopped there for the day's tests."""
    instant = DAYS[request.param]
    with django_db_blocker.unblock(), transaction.atomic(), time_machine.travel(instant, tick=False):
        call_command("seed_demo", stdout=StringIO())
        # Checked now, once: PostgreSQL would otherwise check the demo's deferred foreign keys again
        # at every test's end, since a test's rolled-back savepoint puts them back in its queue.
        connection.check_constraints()
        yield instant
        transaction.set_rollback(True)


@pytest.fixture
def organizations(pinned, db):
    return list(Organization.objects.filter(slug__in=["summit", "harbor"]).order_by("slug"))


def test_nothing_is_dated_after_now(organizations):
    now = timezone.now()
    assert organizations
    assert not Referral.objects.filter(received_at__gt=now).exists()
    assert not StatusChange.objects.filter(changed_at__gt=now).exists()
    assert not AppointmentChange.objects.filter(changed_at__gt=now).exists()
    assert not ContactAttempt.objects.filter(attempted_at__gt=now).exists()
    assert not Touch.objects.filter(occurred_at__gt=now).exists()
    for organization in organizations:
        plans = PlanOfCare.objects.filter(organization=organization)
        latest = plans.aggregate(Max("starts_on"), Max("sent_on"), Max("signed_on"))
        assert all(day is None or day <= organization_today(organization) for day in latest.values())
        assert not plans.filter(Q(sent_on__lt=F("starts_on")) | Q(signed_on__lt=F("sent_on"))).exists()
        assert not plans.filter(sent_on__isnull=True, signed_on__isnull=False).exists()


def test_recent_referrals_stand_at_every_open_step(organizations):
    for organization in organizations:
        recent = Referral.objects.filter(organization=organization, received_at__gte=timezone.now() - RECENT)
        assert set(OPEN_STATUSES) <= set(recent.values_list("status", flat=True)), organization


def test_the_queues_have_late_and_on_time_referrals_counted_in_business_days(organizations):
    now = timezone.now()
    for organization in organizations:
        sla = referral_settings_get(organization=organization).contact_sla_business_days
        rows = queue(organization=organization, name="needs_contact")
        late = [row for row in rows if row.overdue]
        on_time = [row for row in rows if not row.overdue]

        assert on_time, organization
        assert len([row for row in late if row.business_days_waiting > sla]) >= 3, organization
        for row in rows:
            zone = row.referral.clinic.timezone
            due = contact_due_at(row.referral.received_at, timezone_name=zone, business_days=sla)
            assert row.due_at == due
            assert row.overdue == (now > due)
            # The deadline is a business day at the time of day the clock started.
            assert due.astimezone(ZoneInfo(zone)).weekday() < 5
            waiting = business_days_waiting(row.referral.received_at, now, timezone_name=zone)
            assert row.business_days_waiting == waiting
            assert waiting >= sla if row.overdue else waiting <= sla
        assert queue(organization=organization, name="needs_scheduling"), organization
        assert queue(organization=organization, name="awaiting_evaluation"), organization


def test_the_queues_show_appointments_ahead_and_missed_attempts_and_one_to_give_up_on(organizations):
    now = timezone.now()
    for organization in organizations:
        awaiting = queue(organization=organization, name="awaiting_evaluation")
        assert all(row.referral.first_appointment_at for row in awaiting), organization
        assert any(row.referral.first_appointment_at > now for row in awaiting), organization
        assert [row.appointment_passed for row in awaiting].count(True) == 1, organization
        to_contact = queue(organization=organization, name="needs_contact")
        assert any(row.attempts and not row.suggest_unreachable for row in to_contact), organization
        assert any(row.suggest_unreachable for row in to_contact), organization
        assert all(row.last_attempt_at <= now for row in to_contact if row.attempts)


def test_plans_of_care_are_awaiting_overdue_and_due_for_recertification(organizations):
    for organization in organizations:
        today = organization_today(organization)
        states = Counter(
            row.state.status
            for group in plans_awaiting_signature(organization=organization, today=today)
            for row in group.rows
        )
        assert states[PlanStatus.OVERDUE] >= 1, organization
        assert states[PlanStatus.AWAITING_SIGNATURE] >= 1, organization
        in_care = Referral.objects.filter(organization=organization, status=Status.IN_CARE)
        recertifying = [
            row
            for referral in in_care.filter(plans_of_care__signed_on__isnull=False)
            for row in referral_plans(organization=organization, referral=referral, today=today)
            if row.state.status == PlanStatus.RECERTIFICATION_DUE
        ]
        # Before its certification ends, as a clinic that keeps up would have it.
        assert any(row.plan.ends_on >= today for row in recertifying), organization


def test_follow_ups_are_overdue_due_today_and_next_week_on_each_persons_calendar(organizations, client):
    makers = Membership.objects.filter(
        user__in=Touch.objects.values("made_by"), organization__in=organizations
    ).select_related("user", "home_clinic", "organization")
    assert {membership.user.username for membership in makers} >= {"summit.liaison", "harbor.admin"}
    for membership in makers:
        today = person_today(membership)
        groups = followups_for(organization=membership.organization, user=membership.user, today=today)
        assert groups.overdue, membership.user.username
        assert groups.today, membership.user.username
        assert today + datetime.timedelta(days=7) in {f.due_on for f in groups.upcoming}
        assert all(f.touch.occurred_at <= timezone.now() for f in groups.today + groups.upcoming)

    # The page counts today in the liaison's clinic's time zone too.
    liaison = makers.get(user__username="summit.liaison")
    client.force_login(liaison.user)
    page = client.get(reverse("outreach:followups"))
    assert page.context["today"] == person_today(liaison)
    assert page.context["groups"].today


def test_the_calendar_feed_carries_todays_and_next_weeks_follow_ups(organizations, client):
    membership = Membership.objects.select_related("home_clinic", "organization").get(
        user__username="summit.liaison"
    )
    today = person_today(membership)
    token = calendar_feed_reset(organization=membership.organization, user=membership.user)

    response = client.get(reverse("outreach:calendar_feed", args=[token]))

    starts = {event.decoded("DTSTART") for event in Calendar.from_ical(response.content).walk("VEVENT")}
    assert {today, today + datetime.timedelta(days=7)} <= starts
    assert min(starts) >= today - datetime.timedelta(days=30)


def test_sources_have_lapsed_and_declined_and_the_daily_job_agrees(organizations, client):
    for organization in organizations:
        open_flags = Flag.objects.filter(organization=organization, closed_at__isnull=True)
        severities = set(open_flags.values_list("severity", flat=True))
        assert open_flags.filter(kind=FlagKind.CONTACT_LAPSED).count() >= 5, organization
        assert {FlagSeverity.OVERDUE, FlagSeverity.LAPSED} <= severities, organization
        assert open_flags.filter(kind=FlagKind.REFERRALS_DECLINING).exists(), organization
        assert flags_update(organization=organization, now=timezone.now()) == FlagChanges()
        for flag in open_flags.filter(kind=FlagKind.CONTACT_LAPSED):
            assert "-" not in flag.reason.split(";")[0], flag.reason

    client.force_login(get_user_model().objects.get(username="summit.liaison"))
    page = client.get(reverse("outreach:attention")).content.decode()
    assert "Contact lapsed" in page
    assert "Referrals declining" in page


def test_the_dashboards_tell_the_demos_two_stories(organizations):
    """A source leading by money that does not lead by count, and a lift clear of zero, on any day."""
    for organization in organizations:
        filters = DashboardFilterForm(organization=organization).dashboard_filters()
        by_money = analytics.revenue(filters).table("revenue_physicians")
        rank = by_money.columns.index("Rank by referrals")
        lifts = analytics.outreach(filters).table("lift_by_kind")
        lift = lifts.columns.index("Lift")

        assert by_money.rows[0][rank].value > 1, organization
        assert any(row[lift].value and row[lift].value > 0 for row in lifts.rows), organization


def test_the_longer_care_is_one_visit_a_day_before_discharge_and_paid_by_today(organizations):
    for organization in organizations:
        extra = Payment.objects.filter(organization=organization, reference=LONGER_CARE_REFERENCE)
        care = Visit.objects.filter(organization=organization)
        discharged = StatusChange.objects.filter(
            referral=OuterRef("referral"),
            to_status=Status.DISCHARGED,
            changed_at__date__lt=OuterRef("service_date"),
        )

        assert extra.exists(), organization
        assert not extra.filter(referral__status=Status.LOST).exists(), organization
        assert not extra.filter(paid_on__gt=organization_today(organization)).exists()
        assert not care.values("referral", "service_date").annotate(n=Count("pk")).filter(n__gt=1).exists()
        assert not care.filter(Exists(discharged)).exists(), organization
