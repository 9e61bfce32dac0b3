from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db.models import Sum

from billing.models import Payment, PaymentKind, Visit
from referrals.models import Referral

from ..factories import ReferralFactory


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
def patient(summit):
    """Ana Núñez, referred on Nov 2 and still in care."""
    return ReferralFactory(
        organization=summit,
        patient_first_name="Ana",
        patient_last_name="Núñez",
        patient_birth_date=date(1970, 5, 1),
        received_at=datetime(2026, 11, 2, 16, tzinfo=UTC),
    )


@pytest.fixture
def summit_therapist(summit, member_factory):
    return member_factory(summit)
