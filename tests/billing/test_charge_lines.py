"""Charge reports that list a visit once per CPT code: a visit is a referral's day at a clinic."""

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine

from billing.models import ChargeLine, RowSource, Visit
from billing.services import VisitFields, billing_row_remove, visit_save
from physicians.models import ImportStatus
from referrals.models import Referral

from ..factories import ClinicFactory, PayerFactory, ReferralFactory
from .conftest import assert_totals_are_the_sums
from .imports import import_report, report

PER_CODE = (Path(__file__).parents[1] / "fixtures" / "charges_one_line_per_code.csv").read_bytes()
HEADER = "Patient Acct,Patient Name,DOB,Date of Service,CPT Code,Units,Charge Amount,Location"
WITH_IDS = "Charge ID," + HEADER


def line(day: str, code: str, units: str, amount: str, *, account: str = "A100", clinic: str = "") -> str:
    return f'{account},"Núñez, Ana",05/01/1970,{day},{code},{units},{amount},{clinic}'


@pytest.fixture(autouse=True)
def _pinned_clock():
    with time_machine.travel(datetime(2026, 12, 3, 18, tzinfo=UTC), tick=False):
        yield


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def downtown(summit):
    return ClinicFactory(organization=summit, name="Downtown")


@pytest.fixture
def patient(summit, downtown):
    """Ana Núñez (account A100), referred on Nov 2 to Downtown and still in care."""
    return ReferralFactory(
        organization=summit,
        clinic=downtown,
        patient_first_name="Ana",
        patient_last_name="Núñez",
        patient_birth_date=date(1970, 5, 1),
        patient_account_number="A100",
        received_at=datetime(2026, 11, 2, 16, tzinfo=UTC),
    )


@pytest.fixture
def ben(summit, downtown):
    return ReferralFactory(
        organization=summit,
        clinic=downtown,
        patient_first_name="Ben",
        patient_last_name="Okafor",
        patient_birth_date=date(1988, 7, 14),
        patient_account_number="B200",
        received_at=datetime(2026, 11, 1, 16, tzinfo=UTC),
    )


def visits_of(referral) -> list[tuple[date, Decimal, list[tuple[str, int | None]]]]:
    return [
        (visit.service_date, visit.billed_amount, [(c["code"], c["units"]) for c in visit.procedure_codes])
        for visit in Visit.objects.filter(referral=referral).order_by("service_date")
    ]


def test_a_report_with_a_line_per_code_counts_each_visit_once(summit, summit_admin, patient, ben):
    aetna = PayerFactory(organization=summit, name="Aetna")

    job = import_report(summit, summit_admin.user, PER_CODE)

    assert (job.status, job.rows_read, job.created_count, job.visits_created_count) == (
        ImportStatus.SUCCEEDED,
        8,
        8,
        4,
    )
    assert visits_of(patient) == [
        (date(2026, 11, 3), Decimal("270.00"), [("97161", 1), ("97110", 2)]),
        (date(2026, 11, 5), Decimal("231.00"), [("97110", 2), ("97140", 1), ("97530", 2)]),
        # Two therapists' units of 97110 on the same day: two lines of one visit.
        (date(2026, 11, 10), Decimal("90.00"), [("97110", 1), ("97110", 1)]),
    ]
    stored = Referral.objects.get(pk=patient.pk)
    assert (stored.visits_attended, stored.billed_amount) == (3, Decimal("591.00"))
    assert Referral.objects.get(pk=ben.pk).visits_attended == 1
    assert set(Visit.objects.values_list("payer", flat=True)) == {aetna.pk, None}  # no Cigna in Summit
    assert ChargeLine.objects.filter(visit__referral=patient).count() == 7
    assert_totals_are_the_sums(patient, ben)


def test_a_rerun_of_a_report_with_a_line_per_code_changes_nothing(summit, summit_admin, patient, ben):
    import_report(summit, summit_admin.user, PER_CODE)
    before = visits_of(patient), list(ChargeLine.objects.order_by("pk").values_list("pk", "row_key"))

    again = import_report(summit, summit_admin.user, PER_CODE)

    assert (again.created_count, again.updated_count, again.unchanged_count, again.visits_created_count) == (
        0,
        0,
        8,
        0,
    )
    assert (
        visits_of(patient),
        list(ChargeLine.objects.order_by("pk").values_list("pk", "row_key")),
    ) == before
    assert Referral.objects.get(pk=patient.pk).visits_attended == 3


def test_lines_that_arrive_in_a_later_file_join_their_visit(summit, summit_admin, patient):
    import_report(
        summit,
        summit_admin.user,
        report(
            line("11/05/2026", "97110", "2", "90.00"),
            line("11/05/2026", "97140", "1", "45.00"),
            header=HEADER,
        ),
    )
    assert Referral.objects.get(pk=patient.pk).visits_attended == 1

    # The next week's export overlaps this one, and brings a charge entered late for Nov 5.
    later = import_report(
        summit,
        summit_admin.user,
        report(
            line("11/05/2026", "97110", "2", "90.00"),
            line("11/05/2026", "97140", "1", "45.00"),
            line("11/05/2026", "97530", "2", "96.00"),
            line("11/12/2026", "97110", "3", "135.00"),
            header=HEADER,
        ),
    )

    assert (later.created_count, later.unchanged_count, later.visits_created_count) == (2, 2, 1)
    assert visits_of(patient) == [
        (date(2026, 11, 5), Decimal("231.00"), [("97110", 2), ("97140", 1), ("97530", 2)]),
        (date(2026, 11, 12), Decimal("135.00"), [("97110", 3)]),
    ]
    assert Referral.objects.get(pk=patient.pk).visits_attended == 2
    assert_totals_are_the_sums(patient)


def test_overlapping_months_count_each_visit_and_line_once(summit, summit_admin, patient):
    november = report(
        line("11/03/2026", "97161", "1", "180.00"),
        line("11/30/2026", "97110", "2", "90.00"),
        line("11/30/2026", "97140", "1", "45.00"),
        header=HEADER,
    )
    november_and_december = report(
        line("11/30/2026", "97110", "2", "90.00"),
        line("11/30/2026", "97140", "1", "45.00"),
        line("12/01/2026", "97110", "2", "90.00"),
        header=HEADER,
    )

    for content in (november, november_and_december, november, november_and_december):
        import_report(summit, summit_admin.user, content)

    assert [day for day, _, _ in visits_of(patient)] == [
        date(2026, 11, 3),
        date(2026, 11, 30),
        date(2026, 12, 1),
    ]
    assert ChargeLine.objects.count() == 4
    assert Referral.objects.get(pk=patient.pk).billed_amount == Decimal("405.00")
    assert_totals_are_the_sums(patient)


def test_a_line_the_emr_changed_updates_its_visit_or_moves_it_to_its_new_day(summit, summit_admin, patient):
    def charges(*lines: str):
        return import_report(summit, summit_admin.user, report(*lines, header=WITH_IDS))

    charges(
        "L1," + line("11/03/2026", "97110", "2", "90.00"), "L2," + line("11/03/2026", "97140", "1", "45.00")
    )

    corrected = charges("L2," + line("11/03/2026", "97140", "1", "50.00"))
    assert (corrected.updated_count, visits_of(patient)) == (
        1,
        [(date(2026, 11, 3), Decimal("140.00"), [("97110", 2), ("97140", 1)])],
    )
    assert Visit.objects.get().import_run_id == corrected.pk

    charges("L2," + line("11/04/2026", "97140", "1", "50.00"))
    assert visits_of(patient) == [
        (date(2026, 11, 3), Decimal("90.00"), [("97110", 2)]),
        (date(2026, 11, 4), Decimal("50.00"), [("97140", 1)]),
    ]

    # Its last line gone to another day, the first visit goes too. Codes keep the lines' first order.
    charges("L1," + line("11/04/2026", "97110", "2", "90.00"))
    assert visits_of(patient) == [(date(2026, 11, 4), Decimal("140.00"), [("97110", 2), ("97140", 1)])]
    assert Referral.objects.get(pk=patient.pk).visits_attended == 1
    assert_totals_are_the_sums(patient)


def test_a_line_at_another_clinic_is_a_visit_of_its_own(summit, summit_admin, patient):
    ClinicFactory(organization=summit, name="Uptown")

    import_report(
        summit,
        summit_admin.user,
        report(
            line("11/03/2026", "97110", "2", "90.00", clinic="Downtown"),
            line("11/03/2026", "97140", "1", "45.00", clinic="Uptown"),
            header=HEADER,
        ),
    )

    assert list(Visit.objects.order_by("clinic__name").values_list("clinic__name", "billed_amount")) == [
        ("Downtown", Decimal("90.00")),
        ("Uptown", Decimal("45.00")),
    ]


def test_a_visit_corrected_by_hand_keeps_it_until_the_emr_changes_its_lines(
    summit, summit_admin, summit_therapist, patient
):
    first = [line("11/03/2026", "97110", "2", "90.00"), line("11/03/2026", "97140", "1", "45.00")]
    import_report(summit, summit_admin.user, report(*first, header=HEADER))
    visit = Visit.objects.get()
    visit_save(
        acting=summit_therapist,
        referral=patient,
        visit=visit,
        fields=VisitFields(
            service_date=visit.service_date,
            clinic=visit.clinic,
            procedure_codes=visit.procedure_codes,
            billed_amount=Decimal("125.00"),
        ),
    )

    import_report(summit, summit_admin.user, report(*first, header=HEADER))
    assert Visit.objects.get().billed_amount == Decimal("125.00")

    import_report(
        summit, summit_admin.user, report(*first, line("11/03/2026", "97530", "1", "48.00"), header=HEADER)
    )
    assert Visit.objects.get().billed_amount == Decimal("183.00")
    assert_totals_are_the_sums(patient)


def test_a_visit_removed_by_hand_stays_out_even_when_a_late_line_comes(summit, summit_admin, patient):
    first = [line("11/03/2026", "97110", "2", "90.00"), line("11/05/2026", "97110", "2", "90.00")]
    import_report(summit, summit_admin.user, report(*first, header=HEADER))
    billing_row_remove(acting=summit_admin, row=Visit.objects.get(service_date=date(2026, 11, 3)))

    again = import_report(
        summit, summit_admin.user, report(*first, line("11/03/2026", "97140", "1", "45.00"), header=HEADER)
    )

    assert (again.created_count, again.unchanged_count) == (0, 3)
    assert [day for day, _, _ in visits_of(patient)] == [date(2026, 11, 5)]
    assert "Removed by hand" in again.outcomes[0]["reason"]
    assert_totals_are_the_sums(patient)


def test_a_typed_visit_keeps_its_own_figures_beside_imported_ones(
    summit, summit_admin, summit_therapist, patient
):
    visit_save(
        acting=summit_therapist,
        referral=patient,
        fields=VisitFields(
            service_date=date(2026, 11, 3), clinic=patient.clinic, billed_amount=Decimal("99.00")
        ),
    )

    import_report(summit, summit_admin.user, report(line("11/03/2026", "97110", "2", "90.00"), header=HEADER))

    assert sorted(Visit.objects.values_list("source", "billed_amount")) == [
        (RowSource.IMPORTED, Decimal("90.00")),
        (RowSource.TYPED, Decimal("99.00")),
    ]
    assert not ChargeLine.objects.filter(visit__source=RowSource.TYPED).exists()
    assert_totals_are_the_sums(patient)
