"""Cadence and the two flags, under time travel: they open, escalate, close and keep their history."""

import dataclasses
import datetime
import math
from io import StringIO
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AccessKind
from audit.selectors import audit_settings_get
from audit.services import Access, access_record
from clinics.two_factor import security_settings_get
from letters.selectors import letter_settings_get
from outreach.cadence import ReferralTrend, contact_severity, due_soon_window, poisson_cdf
from outreach.flags import flags_update
from outreach.models import Flag, FlagKind, FlagSeverity, OutreachSettings, TouchKind
from outreach.selectors import outreach_settings_get
from outreach.services import touch_log
from outreach.tasks import flag_organization_sources
from physicians.models import Stage, Tier
from physicians.services import PhysicianFields, physician_merge, physician_save, physician_set_active
from referrals.selectors import referral_settings_get
from tests.audit.queries import access_event_queries

from ..factories import (
    AffiliationFactory,
    FlagFactory,
    GatekeeperFactory,
    PhysicianFactory,
    PracticeFactory,
    ReferralFactory,
    TouchFactory,
)

START = datetime.datetime(2026, 3, 2, 15, 0, tzinfo=datetime.UTC)


def days_later(days: int) -> datetime.datetime:
    return START + datetime.timedelta(days=days)


def source(organization, **kwargs):
    kwargs.setdefault("stage", Stage.MAINTAINING)
    kwargs.setdefault("tier", Tier.B)
    with time_machine.travel(START - datetime.timedelta(days=400), tick=False):
        return PhysicianFactory(organization=organization, **kwargs)


def open_flags(organization):
    return {
        (flag.physician_id, flag.kind): flag.severity
        for flag in Flag.objects.filter(organization=organization, closed_at__isnull=True)
    }


# The rules on their own.


@pytest.mark.parametrize(
    ("days", "cadence", "expected"),
    [
        (22, 30, None),
        (23, 30, FlagSeverity.DUE_SOON),
        (30, 30, FlagSeverity.DUE_SOON),
        (31, 30, FlagSeverity.OVERDUE),
        (60, 30, FlagSeverity.OVERDUE),
        (61, 30, FlagSeverity.LAPSED),
        (10, 14, None),
        (11, 14, FlagSeverity.DUE_SOON),
        (6, 7, FlagSeverity.DUE_SOON),
        (5, 7, None),
    ],
)
def test_contact_severity_thresholds(days, cadence, expected):
    assert contact_severity(days_since_contact=days, cadence_days=cadence) == expected


def test_due_soon_window_is_a_quarter_of_the_cadence_between_one_and_seven_days():
    assert [due_soon_window(c) for c in (1, 4, 14, 30, 60, 365)] == [1, 1, 3, 7, 7, 7]


def test_poisson_cdf_matches_the_closed_form():
    assert poisson_cdf(0, 3.0) == pytest.approx(math.exp(-3))
    assert poisson_cdf(2, 2.0) == pytest.approx(math.exp(-2) * (1 + 2 + 2))
    assert poisson_cdf(50, 1.0) == pytest.approx(1.0)


def test_a_decline_needs_a_baseline_and_significance_and_closes_with_hysteresis():
    assert not ReferralTrend(recent=0, baseline=11).is_declining(already_flagged=False)
    assert not ReferralTrend(recent=0, baseline=18).is_declining(already_flagged=False)  # P ≈ 0.052
    assert ReferralTrend(recent=0, baseline=19).is_declining(already_flagged=False)  # P ≈ 0.044
    assert not ReferralTrend(recent=8, baseline=36).is_declining(already_flagged=True)
    # P ≈ 0.07: not enough to open, not enough to close.
    borderline = ReferralTrend(recent=2, baseline=36)
    assert 0.05 < borderline.p_value < 0.10
    assert not borderline.is_declining(already_flagged=False)
    assert borderline.is_declining(already_flagged=True)


# Contact lapsed.


def test_contact_flag_opens_escalates_and_closes_on_a_touch(summit):
    physician = source(summit, tier=Tier.B)
    TouchFactory(organization=summit, physician=physician, occurred_at=START)

    for day, expected in [
        (20, {}),
        (24, {(physician.pk, FlagKind.CONTACT_LAPSED): FlagSeverity.DUE_SOON}),
        (31, {(physician.pk, FlagKind.CONTACT_LAPSED): FlagSeverity.OVERDUE}),
        (61, {(physician.pk, FlagKind.CONTACT_LAPSED): FlagSeverity.LAPSED}),
    ]:
        flags_update(organization=summit, now=days_later(day))
        assert open_flags(summit) == expected, day

    with time_machine.travel(days_later(62), tick=False):
        touch_log(
            organization=summit,
            made_by=None,
            logged_by=None,
            kind=TouchKind.CALL,
            occurred_at=timezone.now(),
            physician=physician,
        )
        flags_update(organization=summit, now=timezone.now())

    assert open_flags(summit) == {}
    history = Flag.objects.get(physician=physician)
    assert (history.opened_at, history.closed_at) == (days_later(24), days_later(62))
    assert history.severity == FlagSeverity.LAPSED


def test_running_the_job_twice_changes_nothing(summit):
    lapsed = source(summit, tier=Tier.A)
    TouchFactory(organization=summit, physician=lapsed, occurred_at=START)
    declining = source(summit, tier=Tier.A)
    TouchFactory(organization=summit, physician=declining, occurred_at=days_later(89))
    for day in range(0, 300, 10):
        ReferralFactory(organization=summit, physician=declining, received_at=days_later(day - 300))

    first = flags_update(organization=summit, now=days_later(90))
    rows = list(Flag.objects.values())
    second = flags_update(organization=summit, now=days_later(90) + datetime.timedelta(hours=2))

    assert (first.opened, second.opened, second.updated, second.closed) == (2, 0, 0, 0)
    assert list(Flag.objects.values()) == rows


def test_the_tier_cadence_is_an_organization_setting_and_a_physician_may_override_it(summit):
    OutreachSettings.objects.create(organization=summit, cadence_tier_a_days=10)
    tier_a = source(summit, tier=Tier.A)
    own_interval = source(summit, tier=Tier.A, contact_every_days=90)
    for physician in (tier_a, own_interval):
        TouchFactory(organization=summit, physician=physician, occurred_at=START)

    flags_update(organization=summit, now=days_later(15))

    assert open_flags(summit) == {(tier_a.pk, FlagKind.CONTACT_LAPSED): FlagSeverity.OVERDUE}
    assert Flag.objects.get().evidence == {"cadence_days": 10, "since": "2026-03-02", "ever": True}


def test_prospects_and_inactive_physicians_are_not_held_to_a_cadence(summit):
    prospect = source(summit, stage=Stage.PROSPECT)
    leaving = source(summit)
    flags_update(organization=summit, now=START)
    assert set(open_flags(summit)) == {(leaving.pk, FlagKind.CONTACT_LAPSED)}

    leaving.is_active = False
    leaving.save()
    flags_update(organization=summit, now=START)

    assert open_flags(summit) == {}
    assert not Flag.objects.filter(physician=prospect).exists()


def test_never_contacted_counts_from_the_day_they_were_added(summit):
    physician = source(summit, tier=Tier.C)

    flags_update(organization=summit, now=START)

    flag = Flag.objects.get(physician=physician)
    assert flag.severity == FlagSeverity.LAPSED
    assert flag.evidence["ever"] is False
    with time_machine.travel(START, tick=False):
        assert flag.reason.startswith("No contact logged in the 400 days since they were added")


def test_a_practice_or_gatekeeper_touch_counts_for_physicians_whose_primary_practice_it_is(summit):
    practice = PracticeFactory(organization=summit)
    primary_here = source(summit)
    only_affiliated = source(summit)
    AffiliationFactory(organization=summit, physician=primary_here, practice=practice, is_primary=True)
    AffiliationFactory(organization=summit, physician=only_affiliated, practice=practice, is_primary=False)
    gatekeeper = GatekeeperFactory(organization=summit, practice=practice)

    touch = touch_log(
        organization=summit,
        made_by=None,
        logged_by=None,
        kind=TouchKind.CALL,
        occurred_at=START,
        gatekeeper=gatekeeper,
    )
    flags_update(organization=summit, now=days_later(5))

    assert touch.practice == practice
    assert set(open_flags(summit)) == {(only_affiliated.pk, FlagKind.CONTACT_LAPSED)}


def test_a_service_announcement_is_not_contact(summit):
    physician = source(summit)
    TouchFactory(organization=summit, physician=physician, occurred_at=START)
    TouchFactory(
        organization=summit,
        physician=physician,
        occurred_at=days_later(30),
        kind=TouchKind.SERVICE_ANNOUNCEMENT,
    )

    flags_update(organization=summit, now=days_later(35))

    assert open_flags(summit) == {(physician.pk, FlagKind.CONTACT_LAPSED): FlagSeverity.OVERDUE}


# Referrals declining.


def test_declining_flag_opens_on_a_significant_drop_and_closes_when_referrals_return(summit):
    physician = source(summit)
    TouchFactory(organization=summit, physician=physician, occurred_at=days_later(89))
    # Three a month over the year before the last 60 days, then nothing.
    for day in range(0, 365, 10):
        ReferralFactory(organization=summit, physician=physician, received_at=days_later(day - 335))

    flags_update(organization=summit, now=days_later(90))
    flag = Flag.objects.get(physician=physician, kind=FlagKind.REFERRALS_DECLINING)
    assert flag.evidence == {"recent": 0, "baseline": 37, "expected": 6.1, "p_value": 0.002}
    assert (
        flag.reason == "0 referrals in the last 60 days; about 6.1 expected from their 37 in the year before"
    )

    for day in range(75, 90, 2):
        ReferralFactory(organization=summit, physician=physician, received_at=days_later(day))
    flags_update(organization=summit, now=days_later(90))

    flag.refresh_from_db()
    assert flag.closed_at == days_later(90)


def test_a_source_with_little_history_is_never_called_declining(summit):
    physician = source(summit)
    TouchFactory(organization=summit, physician=physician, occurred_at=days_later(89))
    for day in range(0, 300, 30):
        ReferralFactory(organization=summit, physician=physician, received_at=days_later(day - 300))

    flags_update(organization=summit, now=days_later(90))

    assert open_flags(summit) == {}


# Scale, scope and the ways the job is run.


def make_sources(organization, count: int):
    for _ in range(count):
        physician = source(organization)
        TouchFactory(organization=organization, physician=physician, occurred_at=START)
        ReferralFactory(organization=organization, physician=physician, received_at=days_later(-100))
    return flags_update(organization=organization, now=days_later(40))


def queries_of_a_run(organization, day: int) -> int:
    with CaptureQueriesContext(connection) as queries:
        flags_update(organization=organization, now=days_later(day))
    return len(queries)


def test_the_job_runs_a_fixed_number_of_queries_however_many_physicians(summit, harbor):
    make_sources(summit, 1)
    make_sources(harbor, 40)

    # Day 70: every flag escalates to lapsed; day 75: the same, nothing to write.
    assert queries_of_a_run(summit, 70) == queries_of_a_run(harbor, 70)
    assert queries_of_a_run(summit, 75) == queries_of_a_run(harbor, 75)
    assert Flag.objects.filter(organization=harbor, severity=FlagSeverity.LAPSED).count() == 40


def test_one_organizations_run_never_touches_anothers_flags(summit, harbor):
    make_sources(harbor, 3)
    harbor_rows = list(Flag.objects.values())

    flags_update(organization=summit, now=days_later(200))

    assert list(Flag.objects.values()) == harbor_rows


def test_the_command_runs_the_job_for_each_organization(summit, harbor):
    source(summit)
    output = StringIO()

    call_command("flag_lapsed_sources", stdout=output)
    call_command("flag_lapsed_sources", "--organization", "summit", stdout=output)

    assert output.getvalue().splitlines() == [
        "Harbor Rehab: 0 opened, 0 updated, 0 closed",
        "Summit Physical Therapy: 1 opened, 0 updated, 0 closed",
        "Summit Physical Therapy: 0 opened, 0 updated, 0 closed",
    ]
    with pytest.raises(CommandError, match="No organization"):
        call_command("flag_lapsed_sources", "--organization", "nowhere")


def test_the_task_flags_one_organization(summit):
    physician = source(summit)

    flag_organization_sources(summit.pk)

    assert set(open_flags(summit)) == {(physician.pk, FlagKind.CONTACT_LAPSED)}


def test_beat_runs_the_job_daily_at_the_configured_hour():
    entry = settings.CELERY_BEAT_SCHEDULE["flag-sources"]
    assert entry["task"] == "outreach.flag_sources"
    assert entry["schedule"].hour == {settings.OUTREACH_FLAG_HOUR}
    assert entry["schedule"].minute == {0}


def test_an_admin_sets_the_tier_cadences_and_a_worker_reevaluates_the_flags(
    admin_client, summit, django_capture_on_commit_callbacks
):
    """The request only enqueues the sweep: it reads every source and holds the organization's lock."""
    settings_url = reverse("clinics:organization_settings")
    data = {
        "organization-name": summit.name,
        "referrals-contact_sla_business_days": 1,
        "referrals-unreachable_after_attempts": 3,
        "referrals-patient_details_retention_years": 7,
        "referrals-poc_signature_days": 30,
        "referrals-poc_certification_days": 90,
        "outreach-cadence_tier_a_days": 7,
        "outreach-cadence_tier_b_days": 21,
        "outreach-cadence_tier_c_days": 45,
        "letters-loop_days": 7,
        "letters-link_valid_days": 30,
        "audit-retention_years": 6,
    }
    physician = source(summit, tier=Tier.A)
    TouchFactory(
        organization=summit, physician=physician, occurred_at=timezone.now() - datetime.timedelta(days=10)
    )
    flags_update(organization=summit)
    assert open_flags(summit) == {}

    with (
        mock.patch("outreach.tasks.flag_organization_sources.delay") as delay,
        CaptureQueriesContext(connection) as request_queries,
        django_capture_on_commit_callbacks(execute=True),
    ):
        saved = admin_client.post(settings_url, data)
    refused = admin_client.post(settings_url, {**data, "outreach-cadence_tier_b_days": 0})

    assert saved.status_code == 302
    cadences = outreach_settings_get(organization=summit)
    assert [cadences.cadence_days_for_tier(tier) for tier in Tier.values] == [7, 21, 45]
    refused_forms = {section.key: form for section, form in refused.context["sections"]}
    assert "cadence_tier_b_days" in refused_forms["outreach"].errors
    delay.assert_called_once_with(summit.pk)
    assert not [query for query in request_queries if "outreach_flag" in query["sql"]]
    assert open_flags(summit) == {}

    flag_organization_sources(*delay.call_args.args)

    # Ten days since contact is overdue for a seven-day cadence.
    assert open_flags(summit) == {(physician.pk, FlagKind.CONTACT_LAPSED): FlagSeverity.OVERDUE}


def test_saving_settings_costs_the_same_however_many_sources(
    admin_client, summit, django_capture_on_commit_callbacks
):
    data = {
        "organization-name": summit.name,
        "referrals-contact_sla_business_days": 1,
        "referrals-unreachable_after_attempts": 3,
        "referrals-patient_details_retention_years": 7,
        "referrals-poc_signature_days": 30,
        "referrals-poc_certification_days": 90,
        "outreach-cadence_tier_a_days": 7,
        "outreach-cadence_tier_b_days": 21,
        "outreach-cadence_tier_c_days": 45,
        "letters-loop_days": 7,
        "letters-link_valid_days": 30,
        "audit-retention_years": 6,
    }

    def save_queries(tier_a_days: int) -> list[str]:
        """A save that changes the cadences (an unchanged page saves nothing)."""
        with (
            mock.patch("outreach.tasks.flag_organization_sources.delay"),
            CaptureQueriesContext(connection) as captured,
            django_capture_on_commit_callbacks(execute=True),
        ):
            admin_client.post(
                reverse("clinics:organization_settings"),
                {**data, "outreach-cadence_tier_a_days": tier_a_days},
            )
        return [query["sql"] for query in captured]

    # Each app's row is made by the first page that reads it, long before.
    referral_settings_get(organization=summit)
    outreach_settings_get(organization=summit)
    letter_settings_get(organization=summit)
    audit_settings_get(organization=summit)
    security_settings_get(organization=summit)
    # The organization's audit chain, started by its first sign-in.
    access_record(organization=summit, access=Access(kind=AccessKind.SIGN_IN))
    source(summit)
    one = save_queries(7)
    for _ in range(40):
        source(summit)
    forty_one = save_queries(8)

    # The organization's name is written, and each app's settings read for
    # the form and again, with the write, by the app's service, each write with its
    # change-history row; then the change is recorded.
    assert len(one) == len(forty_one) <= 27 + access_event_queries()
    assert not [sql for sql in forty_one if "physicians_physician" in sql]


# Changes to the directory show at once.


def test_deactivating_or_retiering_a_physician_reevaluates_their_flags(
    summit, django_capture_on_commit_callbacks
):
    physician = source(summit, tier=Tier.C)
    TouchFactory(
        organization=summit, physician=physician, occurred_at=timezone.now() - datetime.timedelta(days=20)
    )
    flags_update(organization=summit)
    assert open_flags(summit) == {}

    with django_capture_on_commit_callbacks(execute=True):
        physician_save(
            organization=summit,
            user=None,
            physician=physician,
            fields=dataclasses.replace(PhysicianFields.of(physician), tier=Tier.A),
        )
    assert open_flags(summit) == {(physician.pk, FlagKind.CONTACT_LAPSED): FlagSeverity.OVERDUE}

    with django_capture_on_commit_callbacks(execute=True):
        physician_set_active(physician=physician, active=False)
    assert open_flags(summit) == {}


def test_merging_two_flagged_physicians_keeps_one_open_flag_and_both_histories(
    summit, django_capture_on_commit_callbacks
):
    keep, duplicate = source(summit), source(summit)
    flags_update(organization=summit)
    assert len(open_flags(summit)) == 2

    with django_capture_on_commit_callbacks(execute=True):
        physician_merge(organization=summit, keep=keep, duplicate=duplicate)

    assert set(open_flags(summit)) == {(keep.pk, FlagKind.CONTACT_LAPSED)}
    assert Flag.objects.filter(physician=keep).count() == 2


def test_a_lapsed_flag_counts_its_days_in_the_flags_own_calendar(summit, settings):
    settings.TIME_ZONE = "America/Denver"
    flag = FlagFactory(
        organization=summit, evidence={"cadence_days": 14, "since": "2026-11-20", "ever": True}
    )
    # 23:30 in Denver, the flags' calendar, is already tomorrow for someone in Boston.
    late_in_denver = datetime.datetime(2026, 11, 30, 23, 30, tzinfo=ZoneInfo("America/Denver"))
    with time_machine.travel(late_in_denver, tick=False), timezone.override("America/New_York"):
        assert flag.reason == "Last contact 10 days ago; contact every 14 days"
