"""`referrals_create_bulk` refuses what the one-at-a-time services refuse, and then saves nothing."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from referrals.models import LossReason, Referral, Status, StatusChange
from referrals.services import ReferralIntake, ReferralRecord, ReferralStep, referrals_create_bulk

from ..factories import ClinicFactory, PhysicianFactory

RECEIVED = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def intake(summit, summit_clinic):
    return ReferralIntake(
        patient_first_name=" Ada ",
        patient_last_name="Moss",
        patient_birth_date=datetime(1960, 1, 1).date(),
        patient_phone="(303) 555-0100",
        clinic=summit_clinic,
        physician=PhysicianFactory(organization=summit),
        diagnosis_codes=["m5450"],
        received_at=RECEIVED,
    )


def at(hours: float) -> datetime:
    return RECEIVED + timedelta(hours=hours)


def test_saves_the_final_state_with_its_history(summit, summit_admin, intake):
    user = summit_admin.user
    steps = [
        ReferralStep(to_status=Status.CONTACTED, changed_at=at(2), changed_by=user),
        ReferralStep(
            to_status=Status.LOST, changed_at=at(30), changed_by=user, loss_reason=LossReason.DECLINED
        ),
    ]

    [referral] = referrals_create_bulk(
        organization=summit,
        records=[ReferralRecord(intake=intake, created_by=user, logged_at=at(1), steps=steps)],
    )

    referral.refresh_from_db()
    assert (referral.status, referral.loss_reason, referral.version) == (Status.LOST, LossReason.DECLINED, 3)
    assert (referral.patient_first_name, referral.diagnosis_codes) == ("Ada", ["M54.50"])
    assert (referral.created_at, referral.updated_at) == (at(1), at(30))
    assert list(referral.status_changes.values_list("from_status", "to_status", "changed_at")) == [
        ("", Status.RECEIVED, RECEIVED),
        (Status.RECEIVED, Status.CONTACTED, at(2)),
        (Status.CONTACTED, Status.LOST, at(30)),
    ]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([(Status.DISCHARGED, 2, "")], "cannot become discharged"),
        ([(Status.LOST, 2, "")], "Say why the referral was lost."),
        ([(Status.CONTACTED, 5, ""), (Status.LOST, 4, "declined")], "in the order they happened"),
        ([(Status.CONTACTED, -1, "")], "none before it was received"),
    ],
)
def test_a_step_the_services_would_refuse_saves_nothing(summit, summit_admin, intake, steps, message):
    user = summit_admin.user
    good = ReferralRecord(intake=intake, created_by=user)
    bad = ReferralRecord(
        intake=intake,
        created_by=user,
        steps=[
            ReferralStep(to_status=s, changed_at=at(h), changed_by=user, loss_reason=r) for s, h, r in steps
        ],
    )

    with pytest.raises(ValidationError, match=f"Referral 2: .*{message}"):
        referrals_create_bulk(organization=summit, records=[good, bad])

    assert not Referral.objects.exists()
    assert not StatusChange.objects.exists()


def test_refuses_another_organizations_clinic(summit, harbor, summit_admin, intake):
    foreign = dataclasses.replace(intake, clinic=ClinicFactory(organization=harbor))

    with pytest.raises(ValidationError, match="Choose one of your organization's records"):
        referrals_create_bulk(
            organization=summit, records=[ReferralRecord(intake=foreign, created_by=summit_admin.user)]
        )

    assert not Referral.objects.exists()
