"""The demo's visits and payments: dated inside each episode, summing to its planned totals."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import Min

from billing import demo as billing_demo
from billing.models import BillingImport, Payment, RowSource, Visit
from clinics.clock import clinic_zone, local_date, organization_today
from referrals.models import Referral

from ..billing.conftest import assert_totals_are_the_sums


def test_every_referral_with_visits_has_them_dated_and_its_totals_are_their_sums(demo):
    referrals = list(Referral.objects.filter(visits_attended__gt=0).select_related("clinic", "organization"))
    assert len(referrals) > 100
    assert_totals_are_the_sums(*referrals)
    first_visits = dict(Visit.objects.values_list("referral_id").annotate(first=Min("service_date")))
    for referral in referrals:
        received_on = local_date(referral.received_at, clinic_zone(referral.clinic))
        assert received_on <= first_visits[referral.pk] <= organization_today(referral.organization)
        assert referral.patient_account_number
    assert not Visit.objects.exclude(source=RowSource.TYPED).exists()
    today = max(organization_today(organization) for organization in demo.values())
    assert not Payment.objects.filter(paid_on__gt=today).exists()


def test_seeding_again_changes_nothing(demo):
    before = (Visit.objects.count(), Payment.objects.count())

    billing_demo.seed()

    assert (Visit.objects.count(), Payment.objects.count()) == before


SAMPLES = Path(__file__).resolve().parents[2] / "billing" / "samples"


@pytest.mark.parametrize(
    ("name", "kind", "rows"),
    [
        ("summit_charges_november.csv", "visits", 9),
        ("summit_charges_per_code_november.csv", "visits", 13),
        ("summit_payments_november.csv", "payments", 8),
    ],
)
def test_the_sample_exports_import_into_the_demo_and_again_change_nothing(demo, capsys, name, kind, rows):
    call_command("import_billing", str(SAMPLES / name), organization="summit", kind=kind)
    first = BillingImport.objects.latest("pk")
    call_command("import_billing", str(SAMPLES / name), organization="summit", kind=kind)
    again = BillingImport.objects.latest("pk")

    assert first.rows_read == rows
    assert first.created_count + first.unmatched_count == rows
    assert (
        first.created_count >= rows - 2
    )  # the unknown patient, and perhaps a match by name past its episode
    assert (again.created_count, again.updated_count, again.visits_created_count) == (0, 0, 0)
    assert again.unchanged_count == first.created_count
    assert_totals_are_the_sums(*Referral.objects.filter(organization=demo["summit"], visits_attended__gt=0))


def test_the_sample_with_a_line_per_code_counts_visits_not_lines(demo):
    call_command(
        "import_billing",
        str(SAMPLES / "summit_charges_per_code_november.csv"),
        organization="summit",
        kind="visits",
    )

    job = BillingImport.objects.latest("pk")
    barlow = Referral.objects.get(organization=demo["summit"], patient_account_number="SUM1899581")
    imported = Visit.objects.filter(referral=barlow, source=RowSource.IMPORTED).order_by("service_date")
    assert [(visit.service_date, visit.billed_amount, visit.codes_display) for visit in imported] == [
        (date(2026, 11, 3), Decimal("270.00"), "97161×1, 97110×2"),
        # Its fourth line was entered late, at the end of the report.
        (date(2026, 11, 5), Decimal("279.00"), "97110×2, 97140×1, 97530×2, 97112×1"),
    ]
    assert job.visits_created_count < job.created_count
