"""Dated visits and payments for the demo's referrals, consistent with the totals the referral demo planned.

The referral demo plans each episode (how many visits, what was billed and
collected per visit) and moves the referral along its pipeline; this module
dates that care, from the evaluation to the discharge (or to the last visit
before the patient stopped coming, or to today while care goes on), and
writes it through `billing_rows_create_bulk`, which recomputes each
referral's totals from the rows: the same figures, now sums. A referral that
already has rows is left alone, so seeding again changes nothing.

Each demo referral with visits also gets a patient account number, as the
clinic's EMR would have it, so the sample exports in billing/samples/ match
them (`demo_account_number`).
"""

import hashlib
import random
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef

from clinics.clock import clinic_zone, local_date, organization_today
from clinics.models import Organization
from referrals.models import Referral, Status, StatusChange
from referrals.services import referral_account_numbers_remember

from .models import PaymentKind, Visit
from .services import PaymentFields, VisitFields, billing_rows_create_bulk

EVALUATION_CODES: list[dict[str, Any]] = [{"code": "97161", "units": None}, {"code": "97110", "units": 1}]
TREATMENT_CODES: list[list[dict[str, Any]]] = [
    [{"code": "97110", "units": 2}, {"code": "97140", "units": 1}],
    [{"code": "97110", "units": 1}, {"code": "97530", "units": 2}],
    [{"code": "97112", "units": 2}, {"code": "97140", "units": 1}],
]
DEMO_FIELDS = (
    "organization_id",
    "status",
    "received_at",
    "visits_attended",
    "billed_amount",
    "collected_amount",
    "patient_last_name",
    "patient_first_name",
    "patient_birth_date",
    "clinic__timezone",
    "therapist__id",
    "payer__id",
)
# The patient stops coming about a week before the referral is marked lost (the referral demo's no-shows).
NO_SHOW_DAYS = 8
# Payers pay three to five weeks after the visit.
PAYMENT_DELAY_DAYS = (21, 35)


def demo_account_number(organization: Organization, referral: Referral) -> str:
    """The demo EMR's account number for a patient: the same patient, the same number, every seeding."""
    patient = f"{referral.patient_last_name}|{referral.patient_first_name}|{referral.patient_birth_date}"
    digits = int(hashlib.sha256(patient.encode()).hexdigest()[:12], 16) % 10**7
    return f"{organization.slug[:3].upper()}{digits:07d}"


def seed(stdout=None) -> None:
    for organization in Organization.objects.filter(referrals_seeded(), slug__in=["summit", "harbor"]):
        made = seed_organization(organization)
        if stdout is not None:
            stdout.write(f"{organization.name}: {made} referrals given dated visits and payments")


def referrals_seeded() -> Exists:
    return Exists(Referral.objects.filter(organization=OuterRef("pk")))


def _split(total: Decimal, parts: int) -> list[Decimal]:
    """`total` in `parts` amounts to the cent, the remainder on the last."""
    each = (total / parts).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    return [each] * (parts - 1) + [total - each * (parts - 1)]


def _visit_days(first: date, last: date, count: int) -> list[date]:
    """`count` days spread evenly from `first` to `last`, both included."""
    if count == 1:
        return [first]
    span = (last - first).days
    return [first + timedelta(days=round(index * span / (count - 1))) for index in range(count)]


@transaction.atomic
def seed_organization(organization: Organization) -> int:
    """Dates the care of the organization's referrals that have totals and no rows yet; returns how many."""
    today = organization_today(organization)
    referrals = list(
        Referral.objects.for_organization(organization)
        .filter(visits_attended__gt=0)
        .exclude(Exists(Visit.objects.filter(referral=OuterRef("pk"))))
        .select_related("clinic", "therapist", "payer")
        # What the care's dates, amounts and account number need: the rest of a referral is not read.
        .only(*DEMO_FIELDS)
        .order_by("pk")
    )
    moments: dict[int, dict[str, datetime]] = {}
    changes = StatusChange.objects.filter(referral__in=referrals).order_by("changed_at", "pk")
    for referral_id, to_status, changed_at in changes.values_list("referral_id", "to_status", "changed_at"):
        moments.setdefault(referral_id, {})[to_status] = changed_at
    visits: list[tuple[Referral, VisitFields]] = []
    payments: list[tuple[Referral, PaymentFields]] = []
    for referral in referrals:
        zone = clinic_zone(referral.clinic)
        steps = moments.get(referral.pk, {})
        first = local_date(steps.get(Status.EVALUATED, referral.received_at), zone)
        if referral.status == Status.DISCHARGED:
            last = local_date(steps[Status.DISCHARGED], zone)
        elif referral.status == Status.LOST:
            last = local_date(steps[Status.LOST], zone) - timedelta(days=NO_SHOW_DAYS)
        else:
            last = today
        days = _visit_days(first, max(first, last), referral.visits_attended)
        rng = random.Random(f"billing-{organization.slug}-{referral.pk}")  # noqa: S311 (demo data, not secrets)
        for index, (day, billed, collected) in enumerate(
            zip(
                days,
                _split(referral.billed_amount, len(days)),
                _split(referral.collected_amount, len(days)),
                strict=True,
            )
        ):
            visits.append(
                (
                    referral,
                    VisitFields(
                        service_date=day,
                        clinic=referral.clinic,
                        therapist=referral.therapist,
                        payer=referral.payer,
                        billed_amount=billed,
                        procedure_codes=EVALUATION_CODES if index == 0 else rng.choice(TREATMENT_CODES),
                    ),
                )
            )
            if collected:
                paid_on = min(day + timedelta(days=rng.randint(*PAYMENT_DELAY_DAYS)), today)
                payments.append(
                    (
                        referral,
                        PaymentFields(
                            paid_on=paid_on,
                            amount=collected,
                            kind=PaymentKind.PAYER if referral.payer_id else PaymentKind.PATIENT,
                            payer=referral.payer,
                            reference=f"EFT {paid_on:%y%m%d}",
                        ),
                    )
                )
    referral_account_numbers_remember(
        organization=organization,
        numbers={referral.pk: demo_account_number(organization, referral) for referral in referrals},
    )
    billing_rows_create_bulk(organization=organization, visits=visits, payments=payments)
    return len(referrals)
