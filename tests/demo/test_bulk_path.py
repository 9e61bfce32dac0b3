"""The demo writes through `referrals_create_bulk`, which must leave what the one-at-a-time services leave."""

import pytest
import time_machine

from billing.models import Payment, Visit
from billing.services import PaymentFields, VisitFields, payment_save, visit_save
from clinics.models import Membership, Role
from referrals.models import OPEN_STATUSES, AppointmentAction, ContactOutcome, Referral, Status
from referrals.services import (
    ContactAttemptFields,
    FirstAppointment,
    PlanOfCareFields,
    ReferralIntake,
    contact_attempt_log,
    plan_of_care_save,
    referral_create,
    referral_transition,
)


def fields(referral: Referral) -> dict:
    referral.refresh_from_db()
    return {field.attname: getattr(referral, field.attname) for field in Referral._meta.concrete_fields}


def history(referral: Referral) -> list[tuple]:
    return list(
        referral.status_changes.order_by("changed_at", "pk").values_list(
            "organization_id", "from_status", "to_status", "loss_reason", "changed_by_id", "changed_at"
        )
    )


def appointments(referral: Referral) -> list[tuple]:
    return list(
        referral.appointment_changes.order_by("changed_at", "pk").values_list(
            "organization_id", "action", "starts_at", "clinic_id", "changed_by_id", "changed_at"
        )
    )


def attempts(referral: Referral) -> list[tuple]:
    return list(
        referral.contact_attempts.order_by("attempted_at", "pk").values_list(
            "organization_id", "method", "outcome", "note", "attempted_by_id", "attempted_at"
        )
    )


def plans(referral: Referral) -> list[tuple]:
    return list(
        referral.plans_of_care.values_list(
            "organization_id", "certifier_id", "starts_on", "ends_on", "sent_on", "signed_on"
        )
    )


def remade(made: Referral) -> Referral:
    """`made` again, logged through the services one step at a time, each at the moment the demo says.

    Each attempt is logged when it was made; one that reached the patient of
    a received referral made its move to contacted, so that move is not made again.
    """
    organization = made.organization
    steps = list(made.status_changes.order_by("changed_at", "pk"))
    # A cancellation is the loss's own doing; each booking came with the move to scheduled.
    booked = {
        change.changed_at: change
        for change in made.appointment_changes.filter(action=AppointmentAction.BOOKED)
    }
    tries = list(made.contact_attempts.order_by("attempted_at", "pk"))
    reached_at = {attempt.attempted_at for attempt in tries if attempt.outcome == ContactOutcome.REACHED}
    assert made.created_by is not None
    with time_machine.travel(made.created_at, tick=False):
        again = referral_create(
            organization=organization, user=made.created_by, fields=ReferralIntake.of(made)
        )
    plans_written = False
    for step in steps[1:]:
        assert step.changed_by is not None
        while tries and tries[0].attempted_at <= step.changed_at:
            attempt = tries.pop(0)
            assert attempt.attempted_by is not None
            with time_machine.travel(attempt.attempted_at, tick=False):
                _, again = contact_attempt_log(
                    referral=again, user=attempt.attempted_by, attempt=ContactAttemptFields.of(attempt)
                )
        if step.to_status == Status.CONTACTED and step.changed_at in reached_at:
            continue
        with time_machine.travel(step.changed_at, tick=False):
            if step.to_status not in OPEN_STATUSES and not plans_written:
                # Plans are written while the patient is in care: a closed referral takes none.
                write_plans(made, again)
                plans_written = True
            booking = booked.get(step.changed_at) if step.to_status == Status.SCHEDULED else None
            again = referral_transition(
                referral=again,
                user=step.changed_by,
                to_status=step.to_status,
                loss_reason=step.loss_reason,
                appointment=FirstAppointment(starts_at=booking.starts_at, clinic=booking.clinic)
                if booking
                else None,
            )
    for attempt in tries:
        assert attempt.attempted_by is not None
        with time_machine.travel(attempt.attempted_at, tick=False):
            contact_attempt_log(
                referral=again, user=attempt.attempted_by, attempt=ContactAttemptFields.of(attempt)
            )
    if made.visits_attended:
        # The visits and payments the billing demo dated, typed one at a time.
        therapist = Membership.objects.get(
            organization=organization, user=made.therapist, role=Role.THERAPIST
        )
        for visit in Visit.objects.filter(referral=made):
            visit_save(acting=therapist, referral=again, fields=VisitFields.of(visit))
        for payment in Payment.objects.filter(referral=made):
            payment_save(acting=therapist, referral=again, fields=PaymentFields.of(payment))
    if not plans_written:
        write_plans(made, again)
    return again


def write_plans(made: Referral, again: Referral) -> None:
    for plan in made.plans_of_care.all():
        plan_of_care_save(
            organization=made.organization,
            referral=again,
            fields=PlanOfCareFields(
                certifier=plan.certifier,
                starts_on=plan.starts_on,
                sent_on=plan.sent_on,
                signed_on=plan.signed_on,
            ),
        )


@pytest.mark.parametrize(
    "kind",
    [
        {"status": Status.RECEIVED},
        {"status": Status.RECEIVED, "contact_attempts__isnull": False},
        {"status": Status.CONTACTED, "contact_attempts__outcome": ContactOutcome.REACHED},
        {"status": Status.SCHEDULED},
        {"status": Status.LOST, "loss_reason": "unreachable"},
        {"status": Status.LOST, "status_changes__from_status": Status.SCHEDULED},
        {"status": Status.LOST, "status_changes__from_status": Status.CONTACTED},
        {"status": Status.IN_CARE, "plans_of_care__signed_on__isnull": True},
        {"status": Status.DISCHARGED, "plans_of_care__signed_on__isnull": False},
    ],
    ids=lambda kind: "-".join(str(value) for value in kind.values()),
)
def test_a_demo_referral_is_the_one_the_services_make_step_by_step(demo, kind):
    made = (
        Referral.objects.filter(organization=demo["summit"], physician__isnull=False, **kind)
        .order_by("pk")
        .last()
    )
    assert made is not None

    again = remade(made)

    # The one made again is the organization's next referral: its own number, the next one.
    assert again.number == Referral.objects.filter(organization=made.organization).count()
    assert {**fields(again), "id": made.pk, "number": made.number} == fields(made)
    assert history(again) == history(made)
    assert appointments(again) == appointments(made)
    assert attempts(again) == attempts(made)
    assert plans(again) == plans(made)
    # One save per history row: visits and money are the dated rows' sums, not a save of the referral.
    assert made.version == len(history(made))
