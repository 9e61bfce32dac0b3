import dataclasses
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from referrals.diagnoses import normalize_icd10
from referrals.models import Referral, Status, StatusChange
from referrals.selectors import (
    evaluated_ever,
    lost_from,
    physician_referral_stats,
    queue,
    reached,
    referral_milestones,
    referral_possible_duplicates,
    referral_settings_get,
)
from referrals.services import (
    ReferralDetails,
    ReferralIntake,
    StaleReferral,
    referral_create,
    referral_transition,
    referral_update,
)
from referrals.sla import business_days_waiting, contact_due_at

from ..factories import ClinicFactory, PhysicianFactory, first_appointment

DENVER = "America/Denver"


@pytest.fixture
def make_referral(summit, summit_admin):
    clinic = ClinicFactory(organization=summit, timezone=DENVER)
    physician = PhysicianFactory(organization=summit)

    def make(**overrides):
        fields = {
            "clinic": clinic,
            "physician": physician,
            "patient_first_name": "Pat",
            "patient_last_name": "Example",
            "patient_birth_date": date(1970, 5, 1),
            "patient_phone": "303-555-0100",
            "received_at": timezone.now(),
            "diagnosis_codes": ["m5450"],
        }
        return referral_create(
            organization=summit, user=summit_admin.user, fields=ReferralIntake(**{**fields, **overrides})
        )

    return make


def test_create_normalizes_diagnoses_and_records_receipt(make_referral):
    referral = make_referral()

    assert referral.diagnosis_codes == ["M54.50"]
    assert list(referral.status_changes.values_list("from_status", "to_status")) == [("", "received")]


@pytest.mark.parametrize("code", ["M54", "S83.511A", "z96651", "R42"])
def test_valid_icd10_codes(code):
    assert normalize_icd10(code)


@pytest.mark.parametrize("code", ["54.50", "MM54", "M54.12345", "hello"])
def test_invalid_icd10_codes_say_so(code):
    with pytest.raises(ValidationError, match="is not an ICD-10-CM code"):
        normalize_icd10(code)


def test_pipeline_moves_forward_and_records_each_step(make_referral, summit_admin):
    referral = make_referral()
    for status in (Status.CONTACTED, Status.SCHEDULED, Status.EVALUATED, Status.IN_CARE, Status.DISCHARGED):
        referral = referral_transition(
            referral=referral,
            user=summit_admin.user,
            to_status=status,
            appointment=first_appointment(referral) if status == Status.SCHEDULED else None,
        )

    steps = list(StatusChange.objects.filter(referral=referral).values_list("from_status", "to_status"))
    assert steps[-1] == ("in_care", "discharged")
    assert len(steps) == 6


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (Status.RECEIVED, Status.EVALUATED),
        (Status.DISCHARGED, Status.RECEIVED),
        (Status.SCHEDULED, Status.CONTACTED),
    ],
)
def test_illegal_transitions_are_refused_with_a_clear_message(make_referral, summit_admin, start, target):
    referral = make_referral()
    Referral.objects.filter(pk=referral.pk).update(status=start)

    with pytest.raises(ValidationError, match="cannot become"):
        referral_transition(referral=referral, user=summit_admin.user, to_status=target)
    assert StatusChange.objects.filter(referral=referral).count() == 1


def test_lost_needs_a_reason_and_can_be_reopened(make_referral, summit_admin):
    referral = make_referral()
    with pytest.raises(ValidationError, match="Say why"):
        referral_transition(referral=referral, user=summit_admin.user, to_status=Status.LOST)

    lost = referral_transition(
        referral=referral, user=summit_admin.user, to_status=Status.LOST, loss_reason="unreachable"
    )
    assert (lost.status, lost.loss_reason) == ("lost", "unreachable")
    reopened = referral_transition(referral=lost, user=summit_admin.user, to_status=Status.RECEIVED)
    assert (reopened.status, reopened.loss_reason) == ("received", "")


def test_a_stale_edit_is_refused_not_lost(make_referral, summit_admin):
    referral = make_referral()
    first = Referral.objects.get(pk=referral.pk)
    second = Referral.objects.get(pk=referral.pk)

    referral_update(
        referral=first,
        acting=summit_admin,
        version=first.version,
        details=dataclasses.replace(ReferralDetails.of(first), notes="Called twice"),
    )
    with pytest.raises(StaleReferral):
        referral_update(
            referral=second,
            acting=summit_admin,
            version=second.version,
            details=dataclasses.replace(ReferralDetails.of(second), notes="Prefers mornings"),
        )

    assert Referral.objects.get(pk=referral.pk).notes == "Called twice"


def test_an_edit_leaves_the_totals_to_the_dated_rows(make_referral, summit_admin):
    referral = make_referral()
    Referral.objects.filter(pk=referral.pk).update(visits_attended=3, billed_amount=Decimal(500))
    referral.refresh_from_db()

    referral_update(
        referral=referral, acting=summit_admin, version=referral.version, details=ReferralDetails.of(referral)
    )

    saved = Referral.objects.get(pk=referral.pk)
    assert (saved.visits_attended, saved.billed_amount) == (3, Decimal(500))
    assert "visits_attended" not in ReferralDetails.names()


def test_another_organizations_staff_cannot_edit(make_referral, harbor_admin):
    referral = make_referral()

    with pytest.raises(PermissionDenied):
        referral_update(
            referral=referral,
            acting=harbor_admin,
            version=referral.version,
            details=dataclasses.replace(ReferralDetails.of(referral), notes="Not ours"),
        )

    assert Referral.objects.get(pk=referral.pk).notes == ""


def test_duplicate_patient_within_30_days_is_found(make_referral, summit):
    earlier = make_referral(received_at=timezone.now() - timedelta(days=20))
    make_referral(received_at=timezone.now() - timedelta(days=45))

    found = referral_possible_duplicates(
        organization=summit,
        first_name="pat",
        last_name="EXAMPLE",
        birth_date=date(1970, 5, 1),
        received_at=timezone.now(),
    )

    assert list(found) == [earlier]


@pytest.mark.parametrize(
    ("received_local", "due_local"),
    [
        (datetime(2026, 11, 20, 16, 0), datetime(2026, 11, 23, 16, 0)),  # Friday → Monday
        (datetime(2026, 11, 21, 10, 0), datetime(2026, 11, 24, 0, 0)),  # Saturday → clock starts Monday
        (datetime(2026, 11, 24, 9, 30), datetime(2026, 11, 25, 9, 30)),  # Tuesday → Wednesday
        (datetime(2026, 10, 30, 15, 0), datetime(2026, 11, 2, 15, 0)),  # across the end of daylight saving
    ],
)
def test_contact_deadline_counts_business_days_in_the_clinic_time_zone(received_local, due_local):
    import zoneinfo

    zone = zoneinfo.ZoneInfo(DENVER)
    due = contact_due_at(received_local.replace(tzinfo=zone), timezone_name=DENVER, business_days=1)

    assert due.replace(tzinfo=None) == due_local


def test_the_same_instant_is_a_different_day_in_another_time_zone():
    friday_late_utc = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)  # Friday evening in Denver, Saturday in UTC

    assert contact_due_at(friday_late_utc, timezone_name=DENVER, business_days=1).weekday() == 0  # Monday
    assert contact_due_at(friday_late_utc, timezone_name="UTC", business_days=1).weekday() == 1  # Tuesday


def test_business_days_waiting_skips_the_weekend():
    friday = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)

    assert business_days_waiting(friday, friday + timedelta(days=3), timezone_name=DENVER) == 1


def test_needs_contact_queue_highlights_referrals_past_the_sla(make_referral, summit):
    with time_machine.travel(datetime(2026, 11, 20, 22, 0, tzinfo=UTC), tick=False):  # Friday 15:00 Denver
        old = make_referral(received_at=timezone.now())
    with time_machine.travel(datetime(2026, 11, 23, 21, 0, tzinfo=UTC), tick=False):  # Monday 14:00 Denver
        fresh = make_referral(received_at=timezone.now(), patient_last_name="Fresh")
        rows = queue(organization=summit, name="needs_contact")
        assert [(row.referral, row.overdue) for row in rows] == [(old, False), (fresh, False)]
    with time_machine.travel(datetime(2026, 11, 23, 23, 0, tzinfo=UTC), tick=False):  # Monday 16:00 Denver
        rows = queue(organization=summit, name="needs_contact")
        assert [(row.referral, row.overdue, row.business_days_waiting) for row in rows] == [
            (old, True, 1),
            (fresh, False, 0),
        ]


def test_queue_runs_constant_queries(make_referral, summit, django_assert_max_num_queries):
    for index in range(30):
        make_referral(patient_last_name=f"Patient{index}")
    # The queues page reads the organization's rules once for its three queues.
    rules = referral_settings_get(organization=summit)

    with django_assert_max_num_queries(1):
        rows = queue(organization=summit, name="needs_contact", rules=rules)

    assert len(rows) == 30


def test_milestones_come_from_the_history_and_the_first_visit_from_the_appointment(
    make_referral, summit_admin
):
    with time_machine.travel(datetime(2026, 11, 2, 15, 0, tzinfo=UTC), tick=False) as traveller:
        referral = make_referral(received_at=timezone.now())
        traveller.shift(timedelta(hours=5))
        referral = referral_transition(
            referral=referral,
            user=summit_admin.user,
            to_status=Status.SCHEDULED,
            appointment=first_appointment(referral, after=timedelta(days=2)),
        )
        # Marked evaluated the day after the visit: the appointment says when it was.
        traveller.shift(timedelta(days=3))
        referral_transition(referral=referral, user=summit_admin.user, to_status=Status.EVALUATED)

    milestones = referral_milestones(referral=referral)

    assert milestones == {
        "to_contact": timedelta(hours=5),
        "to_schedule": timedelta(hours=5),
        "to_first_visit": timedelta(days=2),
    }


def test_a_referral_scheduled_before_appointments_were_kept_counts_its_first_visit_from_its_evaluation(
    make_referral, summit_admin
):
    with time_machine.travel(datetime(2026, 11, 2, 15, 0, tzinfo=UTC), tick=False) as traveller:
        referral = make_referral(received_at=timezone.now())
        Referral.objects.filter(pk=referral.pk).update(status=Status.SCHEDULED)
        traveller.shift(timedelta(days=4))
        referral_transition(referral=referral, user=summit_admin.user, to_status=Status.EVALUATED)

    assert referral_milestones(referral=referral)["to_first_visit"] == timedelta(days=4)


def test_physician_stats_compare_90_day_windows_and_conversion(make_referral, summit, summit_admin):
    recent = [make_referral(received_at=timezone.now() - timedelta(days=d)) for d in (5, 30, 60)]
    make_referral(received_at=timezone.now() - timedelta(days=120))
    referral_transition(
        referral=recent[0],
        user=summit_admin.user,
        to_status=Status.SCHEDULED,
        appointment=first_appointment(recent[0]),
    )
    evaluated = referral_transition(referral=recent[0], user=summit_admin.user, to_status=Status.EVALUATED)
    referral_transition(
        referral=evaluated, user=summit_admin.user, to_status=Status.LOST, loss_reason="declined"
    )

    stats = physician_referral_stats(organization=summit, physician_id=recent[0].physician_id)

    assert (stats.last_90_days, stats.previous_90_days, stats.received, stats.evaluated) == (3, 1, 4, 1)
    assert stats.conversion == 0.25


def test_a_referrals_history_is_read_through_its_own_index_not_the_organizations(make_referral, summit):
    """Each referral's moves come from the referral's index, whichever database plans the query.

    Given the organization as well, SQLite read the organization's (status)
    index once per referral: 193 s for a physician with 4,000 referrals at
    100,000, where the referral's index takes 0.06 s.
    """
    referral = make_referral()
    physicians = Referral.objects.filter(organization=summit, physician_id=referral.physician_id)

    for condition in (evaluated_ever(), reached(Status.CONTACTED)):
        assert "referrals_change_org_status" not in physicians.filter(condition).explain()
    assert "referrals_change_org_status" not in physicians.annotate(lost_from=lost_from()).explain()


def test_a_referral_cannot_point_at_another_organizations_records(summit, harbor, summit_admin):
    with pytest.raises(ValidationError):
        referral_create(
            organization=summit,
            user=summit_admin.user,
            fields=ReferralIntake(
                clinic=ClinicFactory(organization=harbor),
                physician=PhysicianFactory(organization=summit),
                patient_first_name="Pat",
                patient_last_name="Example",
                patient_birth_date=date(1970, 5, 1),
                patient_phone="303-555-0100",
                received_at=timezone.now(),
            ),
        )
    assert not Referral.objects.exists()
