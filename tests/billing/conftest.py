from decimal import Decimal

import pytest
from django.db.models import Sum

from billing.models import Payment, PaymentKind, Visit
from referrals.models import Referral


def assert_totals_are_the_sums(*referrals: Referral) -> None:
    """Each referral's derived columns equal the sums of its rows, read afresh from the database."""
    for referral in referrals:
        stored = Referral.objects.get(pk=referral.pk)
        visits = Visit.objects.filter(referral=referral).aggregate(
            n=Sum("visit_count"), billed=Sum("billed_amount")
        )
        collected = Payment.objects.filter(
            referral=referral, kind__in=[PaymentKind.PAYER, PaymentKind.PATIENT]
        ).aggregate(total=Sum("amount"))["total"]
        assert (stored.visits_attended, stored.billed_amount, stored.collected_amount) == (
            visits["n"] or 0,
            visits["billed"] or Decimal(0),
            collected or Decimal(0),
        )


@pytest.fixture
def summit_therapist(summit, member_factory):
    return member_factory(summit)
