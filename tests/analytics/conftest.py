"""A small clinic group whose figures are worked out by hand in the tests, written through the services.

The clock is pinned to Tuesday June 30, 2026, 18:00 UTC (noon in Denver, the
organization's zone). The period under test is June 1–30; the one before it
is May 2–31. Referrals arrive at 16:00 UTC (10:00 in Denver) and one
business day is the contact deadline.

| ref | physician | received | history (hours after receipt) | payer |
|-----|-----------|----------|--------------------------------|-------|
| R1 | A | Mon Jun 1 | contacted +2, scheduled +24, evaluated +120, discharged +720 | Medicare |
| R2 | A | Tue Jun 2 | contacted +26 (late), scheduled +72, lost (declined) +168 | Aetna |
| R3 | B | Wed Jun 3 | lost (unreachable) +96 (late) | — |
| R4 | B | Mon Jun 8 | contacted +4 | Aetna |
| R5 | A | Wed Jun 10 | still received: waiting past its deadline | — |
| R6 | B | Sun May 10 | contacted +1, scheduled +30, evaluated +100 | Aetna |

Plans of care: R1's starts June 6, signed June 20 (in time); R6's starts May
14, signed June 25 (42 days: late).

Money: R1 three visits of $100 (Medicare), $150 paid by the payer, $20 by
the patient and a $50 adjustment; R4 one visit of $200 and $90 paid.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from billing.services import PaymentFields, VisitFields, payment_save, visit_save
from clinics.models import Role
from physicians.models import Physician
from referrals.models import LossReason, Referral, Status
from referrals.services import (
    FirstAppointment,
    PlanOfCareFields,
    ReferralIntake,
    ReferralRecord,
    ReferralStep,
    referrals_create_bulk,
)

from ..factories import AffiliationFactory, ClinicFactory, PayerFactory, PhysicianFactory

NOW = datetime(2026, 6, 30, 18, 0, tzinfo=UTC)
PERIOD = {"start": "2026-06-01", "end": "2026-06-30"}


def received(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 16, 0, tzinfo=UTC)


@dataclass
class World:
    organization: object
    admin: object
    liaison: object
    front_desk: object
    therapist: object
    clinic: object
    physician_a: Physician
    physician_b: Physician
    medicare: object
    aetna: object
    referrals: dict[str, Referral]


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _record(world_parts, *, physician, when, steps, payer=None, appointment_after=None, plan=None):
    clinic, user = world_parts
    intake = ReferralIntake(
        patient_first_name="Pat",
        patient_last_name=f"Case{when:%m%d}",
        patient_birth_date=date(1970, 1, 1),
        patient_phone="(303) 555-0100",
        clinic=clinic,
        physician=physician,
        payer=payer,
        received_at=when,
    )
    history = []
    for status, hours, reason in steps:
        appointment = None
        if status == Status.SCHEDULED:
            appointment = FirstAppointment(
                starts_at=when + timedelta(hours=appointment_after or 120), clinic=clinic
            )
        history.append(
            ReferralStep(
                to_status=status,
                changed_at=when + timedelta(hours=hours),
                changed_by=user,
                loss_reason=reason,
                appointment=appointment,
            )
        )
    plan_fields = None
    if plan is not None:
        plan_fields = PlanOfCareFields(certifier=physician, starts_on=plan[0], signed_on=plan[1])
    return ReferralRecord(intake=intake, created_by=user, logged_at=when, steps=history, plan=plan_fields)


@pytest.fixture
def world(clock, summit, member_factory):
    admin = member_factory(summit, Role.ADMIN)
    liaison = member_factory(summit, Role.LIAISON)
    clinic = ClinicFactory(organization=summit, name="Downtown")
    physician_a = PhysicianFactory(
        organization=summit, last_name="Able", tier="A", taxonomy_code="207X00000X", owner=liaison.user
    )
    physician_b = PhysicianFactory(
        organization=summit, last_name="Baker", tier="B", taxonomy_code="207Q00000X"
    )
    AffiliationFactory(organization=summit, physician=physician_a)
    AffiliationFactory(organization=summit, physician=physician_b)
    medicare = PayerFactory(organization=summit, name="Medicare Part B")
    aetna = PayerFactory(organization=summit, name="Aetna")
    parts = (clinic, admin.user)
    C, S, E, D, L = Status.CONTACTED, Status.SCHEDULED, Status.EVALUATED, Status.DISCHARGED, Status.LOST
    records = {
        "R1": _record(
            parts,
            physician=physician_a,
            when=received(date(2026, 6, 1)),
            payer=medicare,
            steps=[(C, 2, ""), (S, 24, ""), (E, 120, ""), (D, 720, "")],
            plan=(date(2026, 6, 6), date(2026, 6, 20)),
        ),
        "R2": _record(
            parts,
            physician=physician_a,
            when=received(date(2026, 6, 2)),
            payer=aetna,
            steps=[(C, 26, ""), (S, 72, ""), (L, 168, LossReason.DECLINED)],
            appointment_after=160,
        ),
        "R3": _record(
            parts,
            physician=physician_b,
            when=received(date(2026, 6, 3)),
            steps=[(L, 96, LossReason.UNREACHABLE)],
        ),
        "R4": _record(
            parts, physician=physician_b, when=received(date(2026, 6, 8)), payer=aetna, steps=[(C, 4, "")]
        ),
        "R5": _record(parts, physician=physician_a, when=received(date(2026, 6, 10)), steps=[]),
        "R6": _record(
            parts,
            physician=physician_b,
            when=received(date(2026, 5, 10)),
            payer=aetna,
            steps=[(C, 1, ""), (S, 30, ""), (E, 100, "")],
            appointment_after=100,
            plan=(date(2026, 5, 14), date(2026, 6, 25)),
        ),
    }
    saved = referrals_create_bulk(organization=summit, records=list(records.values()))
    referrals = dict(zip(records, saved, strict=True))
    r1, r4 = referrals["R1"], referrals["R4"]
    for day in (date(2026, 6, 6), date(2026, 6, 9), date(2026, 6, 12)):
        visit_save(
            acting=admin,
            referral=r1,
            fields=VisitFields(service_date=day, clinic=clinic, billed_amount=Decimal(100), payer=medicare),
        )
    payment_save(
        acting=admin, referral=r1, fields=PaymentFields(paid_on=date(2026, 6, 20), amount=Decimal(150))
    )
    payment_save(
        acting=admin,
        referral=r1,
        fields=PaymentFields(paid_on=date(2026, 6, 21), amount=Decimal(20), kind="patient"),
    )
    payment_save(
        acting=admin,
        referral=r1,
        fields=PaymentFields(paid_on=date(2026, 6, 21), amount=Decimal(-50), kind="adjustment"),
    )
    visit_save(
        acting=admin,
        referral=r4,
        fields=VisitFields(
            service_date=date(2026, 6, 12), clinic=clinic, billed_amount=Decimal(200), payer=aetna
        ),
    )
    payment_save(
        acting=admin, referral=r4, fields=PaymentFields(paid_on=date(2026, 6, 25), amount=Decimal(90))
    )
    return World(
        organization=summit,
        admin=admin,
        liaison=liaison,
        front_desk=member_factory(summit, Role.FRONT_DESK),
        therapist=member_factory(summit, Role.THERAPIST),
        clinic=clinic,
        physician_a=physician_a,
        physician_b=physician_b,
        medicare=medicare,
        aetna=aetna,
        referrals={name: Referral.objects.get(pk=referral.pk) for name, referral in referrals.items()},
    )
