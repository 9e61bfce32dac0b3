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


BEFORE_LINES = [("billing", "0003_import_mappings_and_review")]


@pytest.mark.django_db(transaction=True)
def test_imported_visits_become_lines_and_one_days_lines_one_visit(summit):
    """Imported before lines existed, a report with a line per code counted each line as a visit."""
    clinic = ClinicFactory(organization=summit)
    payer = PayerFactory(organization=summit)
    referral = ReferralFactory(organization=summit, clinic=clinic)
    migrate(BEFORE_LINES)
    try:
        old = MigrationExecutor(connection).loader.project_state(BEFORE_LINES[0]).apps
        OldVisit = old.get_model("billing", "Visit")
        common = {
            "organization_id": summit.pk,
            "referral_id": referral.pk,
            "clinic_id": clinic.pk,
            "service_date": date(2026, 11, 3),
        }
        for key, code, amount, payer_id in [
            ("h:a", "97110", "90.00", None),
            ("h:b", "97140", "45.00", payer.pk),
        ]:
            OldVisit.objects.create(
                **common,
                source="imported",
                row_key=key,
                row_fingerprint=f"f-{key}",
                procedure_codes=[{"code": code, "units": 1}],
                billed_amount=Decimal(amount),
                payer_id=payer_id,
            )
        OldVisit.objects.create(**common, source="typed", billed_amount=Decimal("99.00"))
        Referral.objects.filter(pk=referral.pk).update(visits_attended=3, billed_amount=Decimal("234.00"))

        migrate()

        imported = Visit.objects.get(referral=referral, source=RowSource.IMPORTED)
        assert (imported.row_key, imported.billed_amount, imported.payer, imported.procedure_codes) == (
            f"visit:{referral.pk}:2026-11-03:{clinic.pk}",
            Decimal("135.00"),
            payer,
            [{"code": "97110", "units": 1}, {"code": "97140", "units": 1}],
        )
        assert list(
            imported.lines.order_by("pk").values_list("row_key", "row_fingerprint", "billed_amount")
        ) == [
            ("h:a", "f-h:a", Decimal("90.00")),
            ("h:b", "f-h:b", Decimal("45.00")),
        ]
        assert Visit.objects.get(referral=referral, source=RowSource.TYPED).billed_amount == Decimal("99.00")
        assert_totals_are_the_sums(referral)
        assert Referral.objects.get(pk=referral.pk).visits_attended == 2
    finally:
        migrate()
