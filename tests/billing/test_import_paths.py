"""PostgreSQL applies an import set-based, other databases with the ORM: the same files give the same rows.

The scenario below (a report with a line per code, its rerun, an overlapping
report with line ids that changes, moves and repeats lines, a malformed
file, removals and a dismissal by hand, payment reports) runs once per path
the database offers, each time rolled back, and every row it leaves is
compared. On SQLite only the portable path runs, and the invariants below
are checked on it; CI runs the suite on both databases.
"""

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.db import connection, transaction

from billing.import_rows import ImportRefused
from billing.importing import billing_file_import, review_row_resolve
from billing.mapping import guess_mapping
from billing.models import BillingImport, ChargeLine, Payment, ReviewRow, Visit
from billing.reading import open_report
from billing.services import billing_row_remove
from referrals.models import Referral

from ..factories import ClinicFactory, PayerFactory, ReferralFactory
from .conftest import assert_totals_are_the_sums
from .imports import report

PATHS = ["portable", "set-based"] if connection.vendor == "postgresql" else ["portable"]
PER_CODE = (Path(__file__).parents[1] / "fixtures" / "charges_one_line_per_code.csv").read_bytes()
WITH_IDS = (
    "Charge ID,Patient Acct,Patient Name,DOB,Date of Service,CPT Code,Units,Charge Amount,Payer,Location"
)
LATER = report(
    'L1,A100,"Núñez, Ana",05/01/1970,11/12/2026,97110,2,$90.00,Aetna,Downtown',
    'L2,A100,"Núñez, Ana",05/01/1970,11/12/2026,97140,1,$45.00,Aetna,Downtown',
    'L3,,"Okafor, Ben",07/14/1988,11/12/2026,97110,1,$45.00,Cigna,Downtown',
    'L4,Z9,"Doe, Jane",02/02/1980,11/12/2026,97110,1,$45.00,,Downtown',
    'L5,,"Cho, Cy",03/03/1990,11/12/2026,97110,1,$45.00,,Downtown',
    header=WITH_IDS,
)
CHANGED = report(
    'L1,A100,"Núñez, Ana",05/01/1970,11/12/2026,97110,2,$95.00,Aetna,Downtown',  # amount
    'L2,A100,"Núñez, Ana",05/01/1970,11/13/2026,97140,1,$45.00,Aetna,Uptown',  # day and clinic
    'L2,A100,"Núñez, Ana",05/01/1970,11/14/2026,97140,1,$45.00,Aetna,Uptown',  # the id again
    'L4,Z9,"Doe, Jane",02/02/1980,11/12/2026,97110,1,$45.00,,Downtown',
    'L6,A100,"Núñez, Ana",05/01/1970,11/05/2026,97112,1,$48.00,Aetna,Downtown',  # a late charge
    'L7,A100,"Núñez, Ana",05/01/1970,11/03/2026,97112,1,$48.00,Aetna,Downtown',  # a day removed by hand
    header=WITH_IDS,
)
MALFORMED = report('L8,A100,"Núñez, Ana",05/01/1970,11/31/2026,97110,1,$45.00,,', header=WITH_IDS)
PAYMENTS_HEADER = "Payment ID,Posted,Account,Patient Name,DOB,Type,Payer,Amount,Check/EFT,DOS"
PAYMENTS = report(
    'P1,11/20/2026,A100,"Núñez, Ana",05/01/1970,Ins Pmt,AETNA,$95.00,EFT 881,11/03/2026',
    'P2,11/20/2026,A100,"Núñez, Ana",05/01/1970,Contractual Adj,Aetna,(60.00),EFT 881,11/03/2026',
    'P3,11/21/2026,,"Okafor, Ben",07/14/1988,Patient Copay,,25.00,,11/05/2026',
    'P4,11/28/2026,Z9,"Doe, Jane",02/02/1980,Ins Refund,Aetna,-10.00,CHK 12,11/12/2026',
    header=PAYMENTS_HEADER,
)
PAYMENTS_CHANGED = report(
    'P1,11/20/2026,A100,"Núñez, Ana",05/01/1970,Ins Pmt,AETNA,$97.50,EFT 881,11/03/2026',
    'P5,11/30/2026,A100,"Núñez, Ana",05/01/1970,Ins Pmt,AETNA,$40.00,EFT 902,11/05/2026',
    header=PAYMENTS_HEADER,
)


class RolledBack(Exception):
    pass


@pytest.fixture(autouse=True)
def _pinned_clock():
    with time_machine.travel(datetime(2026, 12, 3, 18, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def referrals(summit):
    downtown = ClinicFactory(organization=summit, name="Downtown")
    ClinicFactory(organization=summit, name="Uptown")
    PayerFactory(organization=summit, name="Aetna")
    received = datetime(2026, 11, 1, 16, tzinfo=UTC)
    people = [
        ("Ana", "Núñez", date(1970, 5, 1), "A100"),
        ("Ben", "Okafor", date(1988, 7, 14), ""),  # matched by name; his number is remembered
        ("Cy", "Cho", date(1990, 3, 3), ""),
        ("Cy", "Cho", date(1990, 3, 3), ""),  # referred twice: ambiguous
    ]
    return [
        ReferralFactory(
            organization=summit,
            clinic=downtown,
            patient_first_name=first,
            patient_last_name=last,
            patient_birth_date=born,
            patient_account_number=account,
            received_at=received,
        )
        for first, last, born, account in people
    ]


def run_scenario(summit, admin, referrals, *, portable: bool) -> dict:
    """Imports the scenario's files as `portable` says, and returns every row they leave, rolled back."""
    jobs, results = [], []

    def imported(content: bytes, kind: str = "visits") -> None:
        header = open_report(io.BytesIO(content), encoding="utf-8-sig").header
        job = BillingImport.objects.create(
            organization=summit,
            kind=kind,
            original_name=f"{kind}.csv",
            mapping=guess_mapping(kind, header),
            mapped=True,
            created_by=admin.user,
        )
        jobs.append(job)
        try:
            result = billing_file_import(job=job, file=io.BytesIO(content), portable=portable)
        except ImportRefused as refusal:
            result = refusal.result
        results.append(result)

    try:
        with transaction.atomic():
            imported(PER_CODE)
            imported(PER_CODE)
            billing_row_remove(acting=admin, row=Visit.objects.get(service_date=date(2026, 11, 3)))
            imported(LATER)
            review_row_resolve(
                acting=admin, review=ReviewRow.objects.get(values__patient="Doe, Jane"), referral=None
            )
            imported(MALFORMED)
            imported(CHANGED)
            imported(PAYMENTS, "payments")
            imported(PAYMENTS, "payments")
            imported(PAYMENTS_CHANGED, "payments")
            assert_totals_are_the_sums(*referrals)
            rows = snapshot(jobs, results, referrals)
            raise RolledBack
    except RolledBack:
        pass
    return rows


def snapshot(jobs: list[BillingImport], results: list, referrals: list[Referral]) -> dict:
    """The rows as comparable values: imports by their place in the scenario, not by their ids."""
    step: dict[int | None, int] = {job.pk: index for index, job in enumerate(jobs)}
    return {
        "results": [
            (
                result.rows_read,
                result.created,
                result.visits_created,
                result.updated,
                result.unchanged,
                result.matched,
                result.unmatched,
                result.refused,
                sorted((o["line"], o["outcome"], o["reason"]) for o in result.outcomes),
            )
            for result in results
        ],
        "visits": sorted(
            (
                v.referral_id,
                v.service_date,
                v.clinic_id,
                v.payer_id,
                v.procedure_codes,
                v.billed_amount,
                v.source,
                v.row_key,
                step.get(v.import_run_id),
            )
            for v in Visit.objects.all()
        ),
        "lines": sorted(
            (
                line.row_key,
                line.row_fingerprint,
                line.visit.row_key,
                line.service_date,
                line.clinic_id,
                line.procedure_codes,
                line.billed_amount,
                line.payer_id,
            )
            for line in ChargeLine.objects.select_related("visit")
        ),
        "payments": sorted(
            (
                p.referral_id,
                p.paid_on,
                p.amount,
                p.kind,
                p.payer_id,
                p.reference,
                p.row_key,
                p.row_fingerprint,
                step.get(p.import_run_id),
            )
            for p in Payment.objects.all()
        ),
        "reviews": sorted(
            (
                r.kind,
                r.row_key,
                r.line_number,
                sorted(r.values.items()),
                r.reason,
                r.candidate_ids,
                r.status,
                step[r.import_run_id],
            )
            for r in ReviewRow.objects.all()
        ),
        "referrals": [
            (r.visits_attended, r.billed_amount, r.collected_amount, r.patient_account_number)
            for r in Referral.objects.filter(pk__in=[referral.pk for referral in referrals]).order_by("pk")
        ],
    }


def test_every_path_writes_the_same_rows_from_the_same_files(summit, summit_admin, referrals):
    outcomes = {
        path: run_scenario(summit, summit_admin, referrals, portable=path == "portable") for path in PATHS
    }

    first = next(iter(outcomes.values()))
    for path, rows in outcomes.items():
        assert rows == first, f"the {path} path wrote other rows"
    # What the scenario leaves, whichever path wrote it.
    created = [result[1] for result in first["results"]]
    assert created == [8, 0, 3, 0, 1, 3, 0, 1]
    ana, ben, *_ = first["referrals"]
    # Nov 5 (with its late charge), 10, 12, and 13 (the moved line's day, at Uptown); Nov 3 was removed.
    assert ana == (4, Decimal("509.00"), Decimal("137.50"), "A100")
    assert ben == (2, Decimal("90.00"), Decimal("25.00"), "B200")
    refused = [result[7] for result in first["results"]]
    assert refused == [0, 0, 0, 1, 0, 0, 0, 0]
    assert {review[6] for review in first["reviews"]} == {"pending", "dismissed"}
