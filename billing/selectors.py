from dataclasses import dataclass
from decimal import Decimal

from clinics.clock import clinic_zone, local_date
from clinics.models import Organization
from referrals.models import Referral

from .models import BillingCorrection, Payment, PaymentKind, RowSource, Visit

CORRECTIONS_SHOWN = 10


@dataclass(frozen=True)
class ReferralBilling:
    """A referral's visits and payments by date, with what the page derives from them."""

    visits: list[Visit]
    payments: list[Payment]
    adjustments: Decimal
    days_to_first_visit: int | None
    corrections: list[BillingCorrection]


def referral_billing(*, organization: Organization, referral: Referral) -> ReferralBilling:
    """Four queries whatever the number of rows; `referral.clinic` is expected loaded.

    Days to the first visit count from the day the referral was received (the
    clinic's day) to the first dated visit; a migrated total's date stands for
    a period, not a visit, so it does not count.
    """
    visits = list(
        Visit.objects.for_organization(organization)
        .filter(referral=referral)
        .select_related("clinic", "therapist", "payer")
        .order_by("service_date", "pk")
    )
    payments = list(
        Payment.objects.for_organization(organization)
        .filter(referral=referral)
        .select_related("payer")
        .order_by("paid_on", "pk")
    )
    adjustments = sum((p.amount for p in payments if p.kind == PaymentKind.ADJUSTMENT), Decimal(0))
    first = next((v.service_date for v in visits if v.source != RowSource.MIGRATED), None)
    received_on = local_date(referral.received_at, clinic_zone(referral.clinic))
    corrections = list(
        BillingCorrection.objects.for_organization(organization)
        .filter(referral=referral)
        .select_related("corrected_by")
        .order_by("-corrected_at", "-pk")[:CORRECTIONS_SHOWN]
    )
    return ReferralBilling(
        visits=visits,
        payments=payments,
        adjustments=adjustments,
        days_to_first_visit=(first - received_on).days if first else None,
        corrections=corrections,
    )
