from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.apps.registry import Apps
from django.db.models import Model, Sum

from billing.models import PaymentKind


def assert_totals_are_the_sums(*referrals: Model, models: Apps = django_apps) -> None:
    """Each referral's derived columns equal the sums of its rows, read afresh from the database.

    A migration test passes the `models` of the migration state it checks.
    """
    for referral in referrals:
        stored = models.get_model("referrals", "Referral").objects.get(pk=referral.pk)
        visits = (
            models.get_model("billing", "Visit")
            .objects.filter(referral_id=referral.pk)
            .aggregate(n=Sum("visit_count"), billed=Sum("billed_amount"))
        )
        collected = (
            models.get_model("billing", "Payment")
            .objects.filter(referral_id=referral.pk, kind__in=[PaymentKind.PAYER, PaymentKind.PATIENT])
            .aggregate(total=Sum("amount"))["total"]
        )
        assert (stored.visits_attended, stored.billed_amount, stored.collected_amount) == (
            visits["n"] or 0,
            visits["billed"] or Decimal(0),
            collected or Decimal(0),
        )


@pytest.fixture
def summit_therapist(summit, member_factory):
    return member_factory(summit)
