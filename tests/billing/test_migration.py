"""Totals typed before dated rows existed become one migrated row each, and no figure changes."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from billing.models import Payment, PaymentKind, RowSource, Visit
from referrals.models import Referral, Status, StatusChange

from ..factories import ClinicFactory, PayerFactory, ReferralFactory
from .conftest import assert_totals_are_the_sums

BEFORE = [("billing", "0001_initial")]


def migrate(targets=None) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_typed_totals_become_dated_migrated_rows(summit):
    clinic = ClinicFactory(organization=summit, timezone="America/Los_Angeles")
    payer = PayerFactory(organization=summit)
    discharged = ReferralFactory(
        organization=summit, clinic=clinic, payer=payer, received_at=datetime(2026, 9, 1, 16, tzinfo=UTC)
    )
    # 3 am UTC on Oct 15 is still Oct 14 in Los Angeles: the clinic's day.
    StatusChange.objects.create(
        organization=summit,
        referral=discharged,
        from_status=Status.IN_CARE,
        to_status=Status.DISCHARGED,
        changed_at=datetime(2026, 10, 15, 3, tzinfo=UTC),
    )
    never_changed = ReferralFactory(
        organization=summit, clinic=clinic, received_at=datetime(2026, 9, 2, 16, tzinfo=UTC)
    )
    untouched = ReferralFactory(organization=summit, clinic=clinic)
    migrate(BEFORE)
    try:
        Referral.objects.filter(pk=discharged.pk).update(
            visits_attended=8, billed_amount=Decimal("1440.00"), collected_amount=Decimal("910.25")
        )
        Referral.objects.filter(pk=never_changed.pk).update(billed_amount=Decimal("150.00"))
        migrate()

        visit = Visit.objects.get(referral=discharged)
        assert (visit.source, visit.service_date, visit.visit_count, visit.billed_amount, visit.payer) == (
            RowSource.MIGRATED,
            date(2026, 10, 14),
            8,
            Decimal("1440.00"),
            payer,
        )
        payment = Payment.objects.get(referral=discharged)
        assert (payment.source, payment.paid_on, payment.amount, payment.kind) == (
            RowSource.MIGRATED,
            date(2026, 10, 14),
            Decimal("910.25"),
            PaymentKind.PAYER,
        )
        assert Visit.objects.get(referral=never_changed).service_date == date(2026, 9, 2)
        assert not Visit.objects.filter(referral=untouched).exists()
        assert_totals_are_the_sums(discharged, never_changed, untouched)
        assert Referral.objects.get(pk=discharged.pk).collected_amount == Decimal("910.25")
    finally:
        migrate()
