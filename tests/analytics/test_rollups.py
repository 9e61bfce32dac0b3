"""The rollups equal a recomputation from scratch after every kind of write, and the checks repair them.

Each write goes through the service the pages use; `rollups_verify` then
recomputes every fact and touch-day cell from the referrals, their history,
plans, visits, payments and touches, and compares.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command

from analytics.models import ReferralFact, TouchDay
from analytics.rollups import rollups_rebuild, rollups_verify
from analytics.tasks import verify_organization_rollups
from billing.models import Payment, Visit
from billing.services import (
    PaymentFields,
    VisitFields,
    billing_row_remove,
    billing_rows_create_bulk,
    payment_save,
    visit_save,
)
from outreach.models import TouchKind
from outreach.services import touch_log, touch_log_broadcast, touch_remove
from physicians.services import PhysicianFields, physician_merge, physician_save
from referrals.models import LossReason, Status
from referrals.services import (
    ContactAttemptFields,
    FirstAppointment,
    PlanOfCareFields,
    ReferralDetails,
    ReferralIntake,
    contact_attempt_log,
    plan_of_care_save,
    referral_create,
    referral_reschedule,
    referral_transition,
    referral_transition_many,
    referral_update,
)

from ..factories import ClinicFactory, PhysicianFactory
from .conftest import NOW


def assert_in_step(organization):
    check = rollups_verify(organization=organization, repair=False)
    assert check.clean, check


def details_of(referral, **changes) -> ReferralDetails:
    names = ReferralDetails.names()
    return ReferralDetails(**{name: getattr(referral, name) for name in names} | changes)


def test_after_the_scenarios_writes(world):
    assert ReferralFact.objects.filter(organization=world.organization).count() == 6
    assert_in_step(world.organization)


def test_after_each_write_to_referrals(world):
    org, user = world.organization, world.admin.user
    new = referral_create(
        organization=org,
        user=user,
        fields=ReferralIntake(
            patient_first_name="Nia",
            patient_last_name="New",
            patient_birth_date=date(1980, 2, 2),
            patient_phone="(303) 555-0111",
            clinic=world.clinic,
            physician=world.physician_b,
            received_at=NOW - timedelta(hours=3),
        ),
    )
    assert_in_step(org)

    contact_attempt_log(
        referral=new,
        user=user,
        attempt=ContactAttemptFields(outcome="reached", attempted_at=NOW - timedelta(hours=1)),
    )
    assert_in_step(org)

    referral_transition(
        referral=new,
        user=user,
        to_status=Status.SCHEDULED,
        appointment=FirstAppointment(starts_at=NOW + timedelta(days=2), clinic=world.clinic),
    )
    assert_in_step(org)

    referral_reschedule(
        referral=new,
        user=user,
        appointment=FirstAppointment(starts_at=NOW + timedelta(days=3), clinic=world.clinic),
    )
    assert_in_step(org)

    referral_transition(referral=new, user=user, to_status=Status.LOST, loss_reason=LossReason.OTHER)
    assert_in_step(org)
    assert ReferralFact.objects.get(referral=new).lost_after == Status.SCHEDULED

    reopened = referral_transition(referral=new, user=user, to_status=Status.RECEIVED)  # reopen
    assert_in_step(org)
    assert ReferralFact.objects.get(referral=new).lost_after == ""

    other_clinic = ClinicFactory(organization=org)
    referral_update(
        referral=reopened,
        acting=world.admin,
        version=reopened.version,
        details=details_of(reopened, clinic=other_clinic, payer=world.medicare),
    )
    assert_in_step(org)
    assert ReferralFact.objects.get(referral=new).clinic_id == other_clinic.pk

    referral_transition_many(
        organization=org,
        user=user,
        referral_ids=[new.pk, world.referrals["R5"].pk],
        to_status=Status.LOST,
        loss_reason=LossReason.INSURANCE,
    )
    assert_in_step(org)

    plan_of_care_save(
        organization=org,
        referral=world.referrals["R4"],
        fields=PlanOfCareFields(certifier=world.physician_b, starts_on=date(2026, 6, 20)),
    )
    assert_in_step(org)


def test_after_each_write_to_visits_and_payments(world):
    org, r1 = world.organization, world.referrals["R1"]
    visit = Visit.objects.filter(referral=r1).first()
    visit_save(
        acting=world.admin,
        referral=r1,
        visit=visit,
        fields=VisitFields(
            service_date=visit.service_date, clinic=world.clinic, billed_amount=Decimal("135.50")
        ),
    )
    assert_in_step(org)
    assert ReferralFact.objects.get(referral=r1).billed == Decimal("335.50")

    payment = Payment.objects.filter(referral=r1, kind="payer").first()
    payment_save(
        acting=world.admin,
        referral=r1,
        payment=payment,
        fields=PaymentFields(paid_on=payment.paid_on, amount=Decimal("160")),
    )
    assert_in_step(org)

    billing_row_remove(acting=world.admin, row=visit)
    assert_in_step(org)

    billing_rows_create_bulk(
        organization=org,
        visits=[
            (
                world.referrals["R4"],
                VisitFields(clinic=world.clinic, service_date=date(2026, 6, 15), billed_amount=Decimal(80)),
            )
        ],
        payments=[(world.referrals["R4"], PaymentFields(paid_on=date(2026, 6, 16), amount=Decimal(40)))],
    )
    assert_in_step(org)
    assert ReferralFact.objects.get(referral=world.referrals["R4"]).collected == Decimal("130.00")


def test_after_touches_are_logged_and_removed(world):
    org, user = world.organization, world.liaison.user
    touch = touch_log(
        organization=org,
        made_by=user,
        logged_by=user,
        kind=TouchKind.LUNCH,
        occurred_at=NOW - timedelta(days=3),
        physician=world.physician_a,
    )
    touch_log(
        organization=org,
        made_by=user,
        logged_by=user,
        kind=TouchKind.LUNCH,
        occurred_at=NOW - timedelta(days=3, hours=1),
        physician=world.physician_a,
    )
    assert_in_step(org)
    assert TouchDay.objects.get(organization=org, physician=world.physician_a).touches == 2

    touch_log_broadcast(
        organization=org,
        user=world.admin.user,
        kind=TouchKind.SERVICE_ANNOUNCEMENT,
        occurred_at=NOW - timedelta(days=1),
        physicians=[world.physician_a, world.physician_b],
    )
    assert_in_step(org)

    touch_remove(touch=touch, acting=world.liaison)
    assert_in_step(org)
    assert (
        TouchDay.objects.get(organization=org, physician=world.physician_a, kind=TouchKind.LUNCH).touches == 1
    )


def test_after_a_physician_merge(world):
    org, user = world.organization, world.liaison.user
    touch_log(
        organization=org,
        made_by=user,
        logged_by=user,
        kind=TouchKind.CALL,
        occurred_at=NOW - timedelta(days=2),
        physician=world.physician_b,
    )
    touch_log(
        organization=org,
        made_by=user,
        logged_by=user,
        kind=TouchKind.CALL,
        occurred_at=NOW - timedelta(days=2, hours=1),
        physician=world.physician_a,
    )

    physician_merge(organization=org, keep=world.physician_a, duplicate=world.physician_b)

    assert_in_step(org)
    assert ReferralFact.objects.filter(organization=org, physician=world.physician_a).count() == 6
    # One cell, briefly two rows after the move: every read sums them.
    assert (
        sum(TouchDay.objects.filter(organization=org, kind=TouchKind.CALL).values_list("touches", flat=True))
        == 2
    )


def test_after_a_physicians_owner_changes(world):
    physician = world.physician_b
    fields = PhysicianFields(
        first_name=physician.first_name,
        last_name=physician.last_name,
        npi=physician.npi,
        taxonomy_code=physician.taxonomy_code,
        owner=world.liaison.user,
    )
    physician_save(organization=world.organization, user=world.admin.user, physician=physician, fields=fields)

    assert_in_step(world.organization)


def test_verification_finds_and_repairs_drift(world):
    org = world.organization
    ReferralFact.objects.filter(referral=world.referrals["R1"]).update(billed=Decimal(1))
    ReferralFact.objects.filter(referral=world.referrals["R2"]).delete()
    TouchDay.objects.create(organization=org, day=date(2026, 6, 1), kind=TouchKind.CALL, touches=3)

    found = rollups_verify(organization=org, repair=False)
    assert (found.facts_wrong, found.touch_cells_wrong) == (2, 1)

    verify_organization_rollups(org.pk)  # the nightly job, for one organization

    assert_in_step(org)
    assert ReferralFact.objects.get(referral=world.referrals["R1"]).billed == Decimal("300.00")


def test_the_rebuild_command_remakes_them_and_verify_reports(world, capsys):
    ReferralFact.objects.all().delete()
    with pytest.raises(Exception, match="differ"):
        call_command("rebuild_analytics", "--organization", world.organization.slug, "--verify")

    call_command("rebuild_analytics", "--organization", world.organization.slug)

    assert "rollups rebuilt for 6 referrals" in capsys.readouterr().out
    assert_in_step(world.organization)


def test_rebuild_touches_no_other_organization(world, harbor):
    PhysicianFactory(organization=harbor)
    assert rollups_rebuild(organization=harbor) == 0
    assert ReferralFact.objects.filter(organization=world.organization).count() == 6
