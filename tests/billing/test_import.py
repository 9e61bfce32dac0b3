"""Importing the EMR's visit and payment reports: untidy files, mapping, matching, reruns, all or nothing."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.urls import reverse

from billing.importing import review_row_resolve
from billing.models import (
    BillingImport,
    ChargeLine,
    ColumnMapping,
    Payment,
    PaymentKind,
    ReviewRow,
    ReviewStatus,
    RowSource,
    Visit,
)
from billing.reading import parse_amount, parse_date
from billing.services import billing_row_remove
from physicians.models import ImportStatus
from referrals.models import Referral
from tests.audit.queries import access_event_queries

from ..factories import ClinicFactory, PayerFactory, ReferralFactory
from .conftest import assert_totals_are_the_sums
from .imports import import_report, report

TODAY = date(2026, 12, 3)


@pytest.fixture(autouse=True)
def _pinned_clock():
    with time_machine.travel(datetime(2026, 12, 3, 18, tzinfo=UTC), tick=False):
        yield


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("$1,234.50", "1234.50"),
        ("1234.5", "1234.50"),
        ("(25.00)", "-25.00"),
        ("-25.00", "-25.00"),
        ("25.00-", "-25.00"),
        ("$ 80", "80.00"),
        ("-$12.00", "-12.00"),
        (".5", "0.50"),
    ],
)
def test_amounts_are_read_as_exports_write_them(text, amount):
    assert parse_amount(text) == Decimal(amount)


@pytest.mark.parametrize("text", ["", "abc", "12,34.00", "1.234", "(25.00", "--5", "$"])
def test_what_is_not_an_amount_is_refused(text):
    with pytest.raises(ValueError, match="not an amount"):
        parse_amount(text)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("12/01/2026", date(2026, 12, 1)),
        ("2026-12-01", date(2026, 12, 1)),
        ("12/1/26", date(2026, 12, 1)),
        ("5/1/70", date(1970, 5, 1)),
        ("11/30/2026 10:15 AM", date(2026, 11, 30)),
        ("2026-11-30T10:15:00", date(2026, 11, 30)),
    ],
)
def test_dates_are_read_in_the_usual_shapes(text, day):
    assert parse_date(text, today=TODAY) == day


@pytest.mark.parametrize("text", ["13/01/2026", "2026-02-30", "Dec 1", "1.12.2026"])
def test_what_is_not_a_date_is_refused(text):
    with pytest.raises(ValueError, match="not a date"):
        parse_date(text, today=TODAY)


UNTIDY = [
    "Summit PT - Charge Detail Report",
    "Date range: 11/01/2026 - 11/30/2026",
    "",
    "Acct #,Patient,DOB,DOS,CPT Codes,Charge,Primary Insurance,Location,Rendering Provider,Extra",
    'A100,"Núñez, Ana",05/01/1970,11/03/2026,"97161, 97110x2","$1,234.50",Aetna,Downtown,Dr X,zz',
    "",
    'A100,"Núñez, Ana",5/1/70,2026-11-05,97110x2,1234.5,Aetna,Downtown,Dr X',
    "Total,,,,,2469.00,,,",
    "Page 1 of 2",
    "Acct #,Patient,DOB,DOS,CPT Codes,Charge,Primary Insurance,Location,Rendering Provider,Extra",
    'A100,"Núñez, Ana",05/01/1970,11/7/26,97140,80,Aetna,Downtown,Dr X',
    "",
    "Grand Total,,,,,2549.00,,,",
]


@pytest.mark.parametrize(
    ("encoding", "bom", "newline"),
    [("utf-8", True, "\r\n"), ("utf-8", False, "\n"), ("cp1252", False, "\r\n")],
    ids=["utf8-bom-crlf", "utf8-lf", "latin1-crlf"],
)
def test_an_untidy_export_imports_every_visit_and_nothing_else(
    summit, summit_admin, patient, encoding, bom, newline
):
    content = report(*UNTIDY[1:], header=UNTIDY[0], newline=newline, bom=bom, encoding=encoding)

    job = import_report(summit, summit_admin.user, content)

    assert (job.status, job.rows_read, job.created_count, job.refused_count) == (
        ImportStatus.SUCCEEDED,
        3,
        3,
        0,
    )
    visits = list(Visit.objects.filter(referral=patient).order_by("service_date"))
    assert [v.service_date for v in visits] == [date(2026, 11, 3), date(2026, 11, 5), date(2026, 11, 7)]
    assert [v.billed_amount for v in visits] == [Decimal("1234.50"), Decimal("1234.50"), Decimal("80.00")]
    assert visits[0].procedure_codes == [{"code": "97161", "units": None}, {"code": "97110", "units": 2}]
    assert {v.source for v in visits} == {RowSource.IMPORTED}
    assert_totals_are_the_sums(patient)
    assert Referral.objects.get(pk=patient.pk).visits_attended == 3


def test_a_line_that_cannot_be_read_refuses_the_whole_file(summit, summit_admin, patient):
    content = report(
        'A100,"Núñez, Ana",05/01/1970,11/03/2026,97110,120.00,Aetna,,',
        'A100,"Núñez, Ana",05/01/1970,11/31/2026,97110,120.00,Aetna,,',
        'A100,"Núñez, Ana",05/01/1970,11/04/2026,97110,twelve,Aetna,,',
        "Bob,Nobody,05/01/1970,11/04/2026,97110,10.00,Aetna,,",
    )

    job = import_report(summit, summit_admin.user, content)

    assert job.status == ImportStatus.FAILED
    assert "2 lines cannot be read; nothing was imported" in job.error
    assert [(o["line"], o["outcome"]) for o in job.outcomes] == [(3, "refused"), (4, "refused")]
    assert "not a date" in job.outcomes[0]["reason"]
    assert not Visit.objects.exists()
    assert not ReviewRow.objects.exists()
    assert Referral.objects.get(pk=patient.pk).billed_amount == 0


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00\x01\x02 not a report", b"just one column\nand another line\n"],
    ids=["empty", "binary", "one-column"],
)
def test_a_file_that_is_not_a_report_is_refused_at_upload(client, summit, summit_admin, content):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(summit_admin.user)
    response = client.post(
        reverse("billing:import_list"),
        {"kind": "visits", "file": SimpleUploadedFile("x.csv", content), "encoding": ""},
    )

    assert response.status_code == 200
    assert response.context["form"].errors["file"]
    assert not Visit.objects.exists()


def test_rows_match_by_account_number_first(summit, summit_admin, patient):
    patient.patient_account_number = "MRN-7"
    patient.save()
    other_same_name = ReferralFactory(
        organization=summit,
        patient_first_name="Ana",
        patient_last_name="Nunez",
        patient_birth_date=date(1970, 5, 1),
    )

    job = import_report(
        summit, summit_admin.user, report('MRN-7,"Other, Name",01/01/1990,11/03/2026,97110,100,,,')
    )

    assert job.created_count == 1
    assert Visit.objects.get().referral == patient
    assert not Visit.objects.filter(referral=other_same_name).exists()


def test_rows_match_by_name_and_birth_date_and_remember_the_account_number(summit, summit_admin, patient):
    job = import_report(
        summit,
        summit_admin.user,
        report(
            'A-55,"NUNEZ, ANA M.",05/01/1970,11/03/2026,97110,100,,,',
            # The same account number with a misspelt name: matched by the number remembered from line 2.
            'A-55,"Nunes, Ana",05/01/1970,11/05/2026,97110,100,,,',
        ),
    )

    assert job.created_count == 2
    assert Referral.objects.get(pk=patient.pk).patient_account_number == "A-55"
    assert "by name and date of birth" in job.outcomes[0]["reason"]
    assert "by account number" in job.outcomes[1]["reason"]


def test_a_visit_outside_every_episode_or_in_two_goes_to_review(summit, summit_admin, patient):
    earlier = ReferralFactory(
        organization=summit,
        patient_first_name="Ana",
        patient_last_name="Núñez",
        patient_birth_date=date(1970, 5, 1),
        received_at=datetime(2026, 10, 1, 16, tzinfo=UTC),
    )

    job = import_report(
        summit,
        summit_admin.user,
        report(
            ',"Núñez, Ana",05/01/1970,09/15/2026,97110,100,,,',  # before both referrals
            ',"Núñez, Ana",05/01/1970,11/03/2026,97110,100,,,',  # both open: ambiguous
            ',"Someone, Else",05/01/1970,11/03/2026,97110,100,,,',
        ),
    )

    assert (job.created_count, job.unmatched_count) == (0, 3)
    reviews = {row.line_number: row for row in ReviewRow.objects.all()}
    assert "No referral of this patient covers 09/15/2026" in reviews[2].reason
    assert "2 referrals of this patient cover" in reviews[3].reason
    assert sorted(reviews[3].candidate_ids) == sorted([earlier.pk, patient.pk])
    assert "No referral of a patient with this name" in reviews[4].reason
    assert not Visit.objects.exists()


def test_matching_never_reaches_another_organizations_referral(summit, harbor, summit_admin):
    theirs = ReferralFactory(
        organization=harbor,
        patient_first_name="Ana",
        patient_last_name="Núñez",
        patient_birth_date=date(1970, 5, 1),
        patient_account_number="A100",
        received_at=datetime(2026, 11, 2, 16, tzinfo=UTC),
    )

    job = import_report(
        summit, summit_admin.user, report('A100,"Núñez, Ana",05/01/1970,11/03/2026,97110,100,,,')
    )

    assert (job.created_count, job.unmatched_count) == (0, 1)
    assert not Visit.objects.exists()
    assert ReviewRow.objects.get().candidate_ids == []
    assert Referral.objects.get(pk=theirs.pk).visits_attended == 0


NOVEMBER = [
    'A100,"Núñez, Ana",05/01/1970,11/03/2026,97161,180.00,,,',
    'A100,"Núñez, Ana",05/01/1970,11/05/2026,97110x2,120.00,,,',
]
DECEMBER = [
    'A100,"Núñez, Ana",05/01/1970,11/05/2026,97110x2,120.00,,,',  # overlaps November's file
    'A100,"Núñez, Ana",05/01/1970,12/01/2026,97110x2,120.00,,,',
]


def test_a_rerun_or_an_overlapping_file_counts_nothing_twice(summit, summit_admin, patient):
    first = import_report(summit, summit_admin.user, report(*NOVEMBER))
    again = import_report(summit, summit_admin.user, report(*NOVEMBER))
    overlapping = import_report(summit, summit_admin.user, report(*DECEMBER))

    assert (first.created_count, again.created_count, again.unchanged_count) == (2, 0, 2)
    assert (overlapping.created_count, overlapping.unchanged_count) == (1, 1)
    assert Visit.objects.count() == 3
    assert Referral.objects.get(pk=patient.pk).billed_amount == Decimal("420.00")
    assert_totals_are_the_sums(patient)


def test_identical_lines_in_one_file_are_two_lines_of_the_days_visit_and_stay_two(
    summit, summit_admin, patient
):
    twice = report(NOVEMBER[1], NOVEMBER[1])

    import_report(summit, summit_admin.user, twice)
    again = import_report(summit, summit_admin.user, twice)

    assert again.unchanged_count == 2
    assert ChargeLine.objects.count() == 2
    visit = Visit.objects.get()
    assert visit.billed_amount == Decimal("240.00")
    assert visit.procedure_codes == [{"code": "97110", "units": 2}] * 2


def test_the_emrs_line_id_keys_rows_and_a_change_in_the_emr_updates_them(summit, summit_admin, patient):
    header = "Line ID,Acct #,Patient,DOB,DOS,CPT Codes,Charge"
    import_report(
        summit,
        summit_admin.user,
        report('L1,A100,"Núñez, Ana",05/01/1970,11/03/2026,97161,180.00', header=header),
    )

    corrected = import_report(
        summit,
        summit_admin.user,
        report('L1,A100,"Núñez, Ana",05/01/1970,11/04/2026,97161,150.00', header=header),
    )

    assert (corrected.created_count, corrected.updated_count) == (0, 1)
    visit = Visit.objects.get()
    assert (visit.service_date, visit.billed_amount, visit.import_run_id) == (
        date(2026, 11, 4),
        Decimal("150.00"),
        corrected.pk,
    )
    assert Referral.objects.get(pk=patient.pk).billed_amount == Decimal("150.00")


def test_a_row_removed_by_hand_stays_removed_when_its_file_comes_again(summit, summit_admin, patient):
    import_report(summit, summit_admin.user, report(*NOVEMBER))
    billing_row_remove(acting=summit_admin, row=Visit.objects.get(service_date=date(2026, 11, 3)))

    again = import_report(summit, summit_admin.user, report(*NOVEMBER))

    assert (again.created_count, again.unchanged_count) == (0, 2)
    assert Visit.objects.count() == 1
    assert_totals_are_the_sums(patient)


def test_payments_import_with_their_kinds_and_collected_leaves_adjustments_out(summit, summit_admin, patient):
    aetna = PayerFactory(organization=summit, name="Aetna")
    header = "Posted,Account,Patient Name,DOB,Type,Payer,Amount,Check/EFT"
    content = report(
        '11/20/2026,A100,"Núñez, Ana",05/01/1970,Ins Pmt,AETNA,$95.00,EFT 881',
        '11/20/2026,A100,"Núñez, Ana",05/01/1970,Contractual Adj,Aetna,(60.00),EFT 881',
        '11/21/2026,A100,"Núñez, Ana",05/01/1970,Patient Copay,,25.00,',
        '11/28/2026,A100,"Núñez, Ana",05/01/1970,Ins Refund,Aetna,-10.00,CHK 12',
        header=header,
    )

    job = import_report(summit, summit_admin.user, content, kind="payments")

    assert job.created_count == 4
    kinds = list(Payment.objects.order_by("paid_on", "pk").values_list("kind", "amount", "payer_id"))
    assert kinds == [
        (PaymentKind.PAYER, Decimal("95.00"), aetna.pk),
        (PaymentKind.ADJUSTMENT, Decimal("-60.00"), aetna.pk),
        (PaymentKind.PATIENT, Decimal("25.00"), None),
        (PaymentKind.PAYER, Decimal("-10.00"), aetna.pk),
    ]
    assert Referral.objects.get(pk=patient.pk).collected_amount == Decimal("110.00")


def test_an_admin_resolves_a_row_and_a_rerun_leaves_it(summit, summit_admin, patient):
    content = report('Z9,"Doe, Jane",02/02/1980,11/03/2026,97110,100,,,')
    import_report(summit, summit_admin.user, content)
    review = ReviewRow.objects.get()

    review_row_resolve(acting=summit_admin, review=review, referral=patient)
    again = import_report(summit, summit_admin.user, content)

    visit = Visit.objects.get()
    assert (visit.referral, visit.source) == (patient, RowSource.IMPORTED)
    assert ChargeLine.objects.get().row_key == review.row_key
    assert ReviewRow.objects.get().status == ReviewStatus.RESOLVED
    assert Referral.objects.get(pk=patient.pk).patient_account_number == "Z9"
    assert (again.created_count, again.unchanged_count, again.unmatched_count) == (0, 1, 0)
    assert_totals_are_the_sums(patient)


def test_a_dismissed_row_stays_out(summit, summit_admin, patient):
    content = report('A100,"Núñez, Ana",05/01/1970,09/03/2026,97110,100,,,')
    import_report(summit, summit_admin.user, content)
    review_row_resolve(acting=summit_admin, review=ReviewRow.objects.get(), referral=None)
    # The referral's date is corrected: the row would match now, but was dismissed.
    Referral.objects.filter(pk=patient.pk).update(received_at=datetime(2026, 9, 1, tzinfo=UTC))

    again = import_report(summit, summit_admin.user, content)

    assert again.unchanged_count == 1
    assert not Visit.objects.exists()


def test_a_pending_row_is_saved_once_a_rerun_can_match_it(summit, summit_admin, patient):
    content = report('A100,"Núñez, Ana",05/01/1970,09/03/2026,97110,100,,,')
    import_report(summit, summit_admin.user, content)
    Referral.objects.filter(pk=patient.pk).update(received_at=datetime(2026, 9, 1, tzinfo=UTC))

    again = import_report(summit, summit_admin.user, content)

    assert again.created_count == 1
    assert ReviewRow.objects.get().status == ReviewStatus.RESOLVED
    assert_totals_are_the_sums(patient)


# ---- Pages and command ----------------------------------------------------------


def test_the_first_upload_asks_for_the_mapping_and_the_next_one_is_recognized(
    client, summit, summit_admin, patient, django_capture_on_commit_callbacks, settings
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.CELERY_TASK_ALWAYS_EAGER = True
    header = "Visit Date,Pt Acct,Patient,Born,Procedures,Amt"
    content = report('11/03/2026,A100,"Núñez, Ana",05/01/1970,97110,100.00', header=header)
    client.force_login(summit_admin.user)

    response = client.post(
        reverse("billing:import_list"),
        {"kind": "visits", "file": SimpleUploadedFile("a.csv", content), "encoding": ""},
    )
    job = BillingImport.objects.get()
    page = client.get(response.url)
    assert page.templates[0].name == "billing/import_mapping.html"
    assert "Núñez, Ana" in page.content.decode()  # the preview
    refused = client.post(response.url, {"service_date": "Visit Date"})
    assert "account number, or the patient" in refused.content.decode()
    assert refused.context["form"]["service_date"].value() == "Visit Date"
    mapping = {
        "service_date": "Visit Date",
        "account_number": "Pt Acct",
        "patient_name": "Patient",
        "birth_date": "Born",
        "procedure_codes": "Procedures",
        "billed_amount": "Amt",
    }
    with django_capture_on_commit_callbacks(execute=True):
        client.post(response.url, mapping)

    job.refresh_from_db()
    assert (job.status, job.created_count) == (ImportStatus.SUCCEEDED, 1)
    assert ColumnMapping.objects.get(organization=summit).mapping == mapping
    with django_capture_on_commit_callbacks(execute=True):
        second = client.post(
            reverse("billing:import_list"),
            {"kind": "visits", "file": SimpleUploadedFile("b.csv", content), "encoding": ""},
        )
    recognized = BillingImport.objects.exclude(pk=job.pk).get()
    assert second.url == reverse("billing:import_detail", args=[recognized.pk])
    assert (recognized.mapped, recognized.status, recognized.unchanged_count) == (
        True,
        ImportStatus.SUCCEEDED,
        1,
    )
    result = client.get(second.url).content.decode()
    assert "unchanged (imported before)" in result
    assert "Núñez" not in second.url


def test_the_review_page_resolves_rows_in_a_constant_number_of_queries(
    client, summit, summit_admin, patient, django_assert_max_num_queries
):
    lines = [f',"Núñez, Ana",05/01/1970,09/{day:02d}/2026,97110,100,,,' for day in range(1, 21)]
    import_report(summit, summit_admin.user, report(*lines))
    client.force_login(summit_admin.user)
    with django_assert_max_num_queries(9 + access_event_queries()):
        page = client.get(reverse("billing:review_list"))
    assert len(page.context["page"].object_list) == 20

    review = ReviewRow.objects.order_by("line_number").first()
    client.post(reverse("billing:review_resolve", args=[review.pk]), {"referral": patient.number})
    client.post(reverse("billing:review_resolve", args=[review.pk + 1]), {"dismiss": "on"})

    assert Visit.objects.get().referral == patient
    assert ReviewRow.objects.filter(status=ReviewStatus.PENDING).count() == 18


def test_a_review_cannot_pick_another_organizations_referral(client, summit, harbor, summit_admin):
    import_report(summit, summit_admin.user, report(',"Doe, Jane",02/02/1980,11/03/2026,97110,100,,,'))
    theirs = ReferralFactory(organization=harbor)
    client.force_login(summit_admin.user)

    review = ReviewRow.objects.get()
    client.post(reverse("billing:review_resolve", args=[review.pk]), {"referral": theirs.number})

    assert ReviewRow.objects.get().status == ReviewStatus.PENDING
    assert not Visit.objects.exists()


def test_the_command_imports_a_file_and_refuses_a_malformed_one(summit, patient, tmp_path, capsys):
    good = tmp_path / "charges.csv"
    good.write_bytes(report(*NOVEMBER))
    bad = tmp_path / "bad.csv"
    bad.write_bytes(report(NOVEMBER[0], 'A100,"Núñez, Ana",05/01/1970,31/12/2026,97110,1,,,'))

    call_command("import_billing", str(good), organization="summit", kind="visits")
    call_command("import_billing", str(good), organization="summit", kind="visits")
    with pytest.raises(CommandError, match="1 line cannot be read"):
        call_command("import_billing", str(bad), organization="summit", kind="visits")

    out = capsys.readouterr()
    assert "2 created (2 new visits)" in out.out
    assert "0 created (0 new visits), 0 updated, 2 unchanged" in out.out
    assert "line 3:" in out.err
    assert Visit.objects.count() == 2


def test_an_unknown_clinic_name_leaves_the_referrals_clinic(summit, summit_admin, patient):
    uptown = ClinicFactory(organization=summit, name="Uptown")

    import_report(
        summit,
        summit_admin.user,
        report(
            'A100,"Núñez, Ana",05/01/1970,11/03/2026,97110,100,,Uptown,',
            'A100,"Núñez, Ana",05/01/1970,11/04/2026,97110,100,,Nowhere,',
        ),
    )

    assert list(Visit.objects.order_by("service_date").values_list("clinic_id", flat=True)) == [
        uptown.pk,
        patient.clinic_id,
    ]


def test_an_account_number_on_several_referrals_picks_the_episode_that_holds_the_date(
    summit, summit_admin, patient
):
    earlier = ReferralFactory(
        organization=summit,
        patient_account_number="A100",
        received_at=datetime(2026, 3, 2, 16, tzinfo=UTC),
        status="discharged",
    )
    earlier.status_changes.create(
        organization=summit,
        from_status="in_care",
        to_status="discharged",
        changed_at=datetime(2026, 5, 1, tzinfo=UTC),
    )
    Referral.objects.filter(pk=patient.pk).update(patient_account_number="A100")

    import_report(
        summit,
        summit_admin.user,
        report(
            'A100,"Núñez, Ana",05/01/1970,04/03/2026,97110,100,,,',
            'A100,"Núñez, Ana",05/01/1970,11/03/2026,97110,100,,,',
            'A100,"Núñez, Ana",05/01/1970,01/03/2026,97110,100,,,',
        ),
    )

    assert list(Visit.objects.order_by("service_date").values_list("referral_id", flat=True)) == [
        earlier.pk,
        patient.pk,
    ]
    assert "No referral of this patient covers 01/03/2026" in ReviewRow.objects.get().reason
