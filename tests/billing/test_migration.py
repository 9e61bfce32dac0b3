"""Totals typed before dated rows existed become one migrated row each, and no figure changes."""

from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import count

from .conftest import assert_totals_are_the_sums

BEFORE = [("billing", "0001_initial")]
AFTER = [("billing", "0002_dated_rows_from_typed_totals")]


def referral_maker(apps, *, organization, clinic):
    """Makes the organization's referrals at a migration state, numbered 1, 2… as intake would."""
    numbers = count(1)

    def make(**fields):
        return apps.get_model("referrals", "Referral").objects.create(
            organization_id=organization.pk,
            clinic_id=clinic.pk,
            number=next(numbers),
            source_type="direct_access",
            patient_first_name="Pat",
            patient_last_name="Example",
            patient_birth_date=date(1970, 5, 1),
            patient_phone="+13035550100",
            **{"received_at": datetime(2026, 9, 3, 16, tzinfo=UTC), **fields},
        )

    return make


def test_typed_totals_become_dated_migrated_rows(scratch_database):
    apps = scratch_database.migrate_to(BEFORE)
    summit = apps.get_model("clinics", "Organization").objects.create(name="Summit", slug="summit")
    clinic = apps.get_model("clinics", "Clinic").objects.create(
        organization_id=summit.pk, name="Downtown", timezone="America/Los_Angeles"
    )
    payer = apps.get_model("clinics", "Payer").objects.create(organization_id=summit.pk, name="Acme Health")
    referral = referral_maker(apps, organization=summit, clinic=clinic)
    discharged = referral(
        payer_id=payer.pk,
        received_at=datetime(2026, 9, 1, 16, tzinfo=UTC),
        visits_attended=8,
        billed_amount=Decimal("1440.00"),
        collected_amount=Decimal("910.25"),
    )
    # 3 am UTC on Oct 15 is still Oct 14 in Los Angeles: the clinic's day.
    apps.get_model("referrals", "StatusChange").objects.create(
        organization_id=summit.pk,
        referral_id=discharged.pk,
        from_status="in_care",
        to_status="discharged",
        changed_at=datetime(2026, 10, 15, 3, tzinfo=UTC),
    )
    never_changed = referral(
        received_at=datetime(2026, 9, 2, 16, tzinfo=UTC), billed_amount=Decimal("150.00")
    )
    untouched = referral()

    apps = scratch_database.migrate_to(AFTER)

    Visit = apps.get_model("billing", "Visit")
    visit = Visit.objects.get(referral_id=discharged.pk)
    assert (visit.source, visit.service_date, visit.visit_count, visit.billed_amount, visit.payer_id) == (
        "migrated",
        date(2026, 10, 14),
        8,
        Decimal("1440.00"),
        payer.pk,
    )
    payment = apps.get_model("billing", "Payment").objects.get(referral_id=discharged.pk)
    assert (payment.source, payment.paid_on, payment.amount, payment.kind) == (
        "migrated",
        date(2026, 10, 14),
        Decimal("910.25"),
        "payer",
    )
    assert Visit.objects.get(referral_id=never_changed.pk).service_date == date(2026, 9, 2)
    assert not Visit.objects.filter(referral_id=untouched.pk).exists()
    assert_totals_are_the_sums(discharged, never_changed, untouched, models=apps)
    stored = apps.get_model("referrals", "Referral").objects.get(pk=discharged.pk)
    assert stored.collected_amount == Decimal("910.25")


BEFORE_LINES = [("billing", "0003_import_mappings_and_review")]
AFTER_LINES = [("billing", "0004_charge_lines")]


def test_imported_visits_become_lines_and_one_days_lines_one_visit(scratch_database):
    """Imported before lines existed, a report with a line per code counted each line as a visit."""
    apps = scratch_database.migrate_to(BEFORE_LINES)
    summit = apps.get_model("clinics", "Organization").objects.create(name="Summit", slug="summit")
    clinic = apps.get_model("clinics", "Clinic").objects.create(organization_id=summit.pk, name="Downtown")
    payer = apps.get_model("clinics", "Payer").objects.create(organization_id=summit.pk, name="Acme Health")
    referral = referral_maker(apps, organization=summit, clinic=clinic)(
        visits_attended=3, billed_amount=Decimal("234.00")
    )
    OldVisit = apps.get_model("billing", "Visit")
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

    apps = scratch_database.migrate_to(AFTER_LINES)

    Visit = apps.get_model("billing", "Visit")
    imported = Visit.objects.get(referral_id=referral.pk, source="imported")
    assert (imported.row_key, imported.billed_amount, imported.payer_id, imported.procedure_codes) == (
        f"visit:{referral.pk}:2026-11-03:{clinic.pk}",
        Decimal("135.00"),
        payer.pk,
        [{"code": "97110", "units": 1}, {"code": "97140", "units": 1}],
    )
    assert list(imported.lines.order_by("pk").values_list("row_key", "row_fingerprint", "billed_amount")) == [
        ("h:a", "f-h:a", Decimal("90.00")),
        ("h:b", "f-h:b", Decimal("45.00")),
    ]
    assert Visit.objects.get(referral_id=referral.pk, source="typed").billed_amount == Decimal("99.00")
    assert_totals_are_the_sums(referral, models=apps)
    assert apps.get_model("referrals", "Referral").objects.get(pk=referral.pk).visits_attended == 2
