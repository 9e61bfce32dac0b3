"""Benchmark of the visit import: rows per second and peak memory, first import and rerun.

Loads `--referrals` referrals with account numbers into a scratch organization
(slug "bench-billing"), writes a visit report of `--rows` rows for them (one
line in fifty matched by name and date of birth instead of the account
number; amounts written "$1,234.50"), imports it, imports it again (nothing
to change), and deletes the organization. Each import runs in a child
process of its own, so each peak memory figure is that import's alone.

    DATABASE_URL=postgres://... .venv/bin/python bench/billing_import.py --rows 1000000

`--hash-keys` leaves the EMR's line id out of the report, so rows are keyed
by a hash of their identifying columns. `--per-code` writes each visit as
one line per CPT code, as many EMRs export charges (1.6 lines a visit).
Each run prints the load average after it: on a shared machine, the
processor time of the process that imported (`cpu s`, the database's own
work not included) says what the import itself costs.
"""

import argparse
import csv
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SLUG = "bench-billing"

sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
# With DEBUG on, Django records every query with its parameters, which costs
# more than the import itself; production runs without it.
os.environ.setdefault("DEBUG", "false")

import django  # noqa: E402

django.setup()

from django.db import connection, connections  # noqa: E402
from django.db.migrations.executor import MigrationExecutor  # noqa: E402

from billing.importing import billing_file_import  # noqa: E402
from billing.models import BillingImport, ChargeLine, Payment, ReviewRow, Visit  # noqa: E402
from clinics.models import Clinic, Organization, Payer  # noqa: E402
from referrals.models import Referral, StatusChange  # noqa: E402

HEADER = ["Line ID", "Acct #", "Patient", "DOB", "DOS", "CPT Codes", "Charge", "Primary Insurance"]
MAPPING = {
    "line_id": "Line ID",
    "account_number": "Acct #",
    "patient_name": "Patient",
    "birth_date": "DOB",
    "service_date": "DOS",
    "procedure_codes": "CPT Codes",
    "billed_amount": "Charge",
    "payer": "Primary Insurance",
}
CODES = ["97110x2, 97140", "97112x2, 97530", "97161", "97110x3", "97140, 97530x2"]
FIRST_DAY = date(2025, 1, 6)
BATCH = 5000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def load_referrals(organization: Organization, count: int) -> list[tuple[str, str, str, date]]:
    """`count` referrals received on FIRST_DAY, each with an account number; returns their patients."""
    clinic = Clinic.objects.create(organization=organization, name="Bench clinic", timezone="America/Denver")
    Payer.objects.create(organization=organization, name="Aetna", category="commercial")
    rng = random.Random(7)  # noqa: S311 (benchmark data, not secrets)
    patients = []
    received = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, 15, tzinfo=UTC)
    for start in range(0, count, BATCH):
        batch = []
        for number in range(start, min(start + BATCH, count)):
            patient = (
                f"B{number:07d}",
                f"Last{number}",
                f"First{rng.randint(0, 99)}",
                date(1950, 1, 1) + timedelta(days=number % 20000),
            )
            patients.append(patient)
            batch.append(
                Referral(
                    organization=organization,
                    # A scratch organization of its own: its numbers start at 1.
                    number=number + 1,
                    clinic=clinic,
                    source_type="other",
                    source_name="Bench",
                    patient_account_number=patient[0],
                    patient_last_name=patient[1],
                    patient_first_name=patient[2],
                    patient_birth_date=patient[3],
                    patient_phone="303-555-0100",
                    received_at=received,
                )
            )
        Referral.objects.bulk_create(batch)
    return patients


def write_report(
    path: Path, patients: list[tuple[str, str, str, date]], rows: int, *, line_ids: bool, per_code: bool
) -> int:
    """Writes `rows` lines, a visit a line or, with `per_code`, a line per code; returns the visits."""
    rng = random.Random(11)  # noqa: S311 (benchmark data, not secrets)
    written = visits = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(HEADER)
        while written < rows:
            account, last, first, born = patients[visits % len(patients)]
            by_name = visits % 50 == 0
            service = FIRST_DAY + timedelta(days=visits // len(patients))
            codes = CODES[visits % len(CODES)]
            for code in (codes.split(", ") if per_code else [codes])[: rows - written]:
                writer.writerow(
                    [
                        f"L{written}" if line_ids else "",
                        "" if by_name else account,
                        f"{last}, {first}",
                        f"{born:%m/%d/%Y}",
                        f"{service:%m/%d/%Y}",
                        code,
                        f"${rng.randint(90, 1300):,}.{rng.randint(0, 99):02d}",
                        "Aetna",
                    ]
                )
                written += 1
            visits += 1
    return visits


def import_in_child(path: Path, report) -> None:
    organization = Organization.objects.get(slug=SLUG)
    job = BillingImport.objects.create(
        organization=organization, kind="visits", original_name=path.name, mapping=MAPPING, mapped=True
    )
    started = time.perf_counter()
    with path.open("rb") as stream:
        result = billing_file_import(job=job, file=stream)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report.send((time.perf_counter() - started, usage.ru_utime + usage.ru_stime, result, peak_rss_mb()))


def timed_import(path: Path):
    # Children must open their own database connections, not share the parent's.
    connections.close_all()
    receiving, sending = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(target=import_in_child, args=(path, sending))
    child.start()
    sending.close()  # the child's copy stays open: if it dies, recv() sees the end of the pipe
    try:
        outcome = receiving.recv()
    except EOFError:
        outcome = None
    child.join()
    if child.exitcode != 0 or outcome is None:
        sys.exit(f"The import failed (exit code {child.exitcode}); see the traceback above.")
    return outcome


def clean_up() -> None:
    """Deletes the scratch organization: leaf tables first, each in one statement."""
    organization = Organization.objects.filter(slug=SLUG).first()
    models = (ChargeLine, Visit, Payment, ReviewRow, BillingImport, StatusChange, Referral)
    if organization is not None:
        with connection.cursor() as cursor:
            for model in models:
                # One DELETE each, rather than Django's deletion, which would collect a million rows' ids.
                table = connection.ops.quote_name(model._meta.db_table)
                cursor.execute(f"DELETE FROM {table} WHERE organization_id = %s", [organization.pk])  # noqa: S608
        organization.delete()
    if connection.vendor == "postgresql":
        # Otherwise autovacuum clears the deleted rows during the next run and slows it.
        with connection.cursor() as cursor:
            for model in models:
                cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="visit rows (default 1,000,000)")
    parser.add_argument("--referrals", type=int, default=100_000, help="referrals (default 100,000)")
    parser.add_argument("--hash-keys", action="store_true", help="no line id: rows keyed by a hash")
    parser.add_argument("--per-code", action="store_true", help="a line per CPT code, not per visit")
    options = parser.parse_args()

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        sys.exit("The database has unapplied migrations; run `manage.py migrate` first.")
    if Organization.objects.filter(slug=SLUG).exists():
        print(f"Removing the “{SLUG}” organization a previous run left behind…")
        clean_up()
    print(f"Database: {connection.vendor} {connection.settings_dict['NAME']}")
    organization = Organization.objects.create(name="Billing benchmark (scratch)", slug=SLUG)
    try:
        started = time.perf_counter()
        patients = load_referrals(organization, options.referrals)
        print(f"Loaded {options.referrals:,} referrals in {time.perf_counter() - started:.1f} s")
        with tempfile.TemporaryDirectory(prefix="bench-billing-") as folder:
            path = Path(folder) / "charges.csv"
            visits = write_report(
                path, patients, options.rows, line_ids=not options.hash_keys, per_code=options.per_code
            )
            print(
                f"File: {options.rows:,} rows, {visits:,} visits, {path.stat().st_size / 1e6:,.1f} MB; "
                f"keys: {'hash of identifying columns' if options.hash_keys else 'line id'}"
            )
            columns = ("seconds", "rows/s", "cpu s", "created", "visits", "unchanged", "review", "peak RSS")
            print(f"{'run':8} " + " ".join(f"{name:>9}" for name in columns) + "  load average")
            for label in ("first", "rerun"):
                seconds, cpu, result, peak = timed_import(path)
                print(
                    f"{label:8} {seconds:9.1f} {result.rows_read / seconds:9,.0f} {cpu:9.1f} "
                    f"{result.created:9,} {result.visits_created:9,} {result.unchanged:9,} "
                    f"{result.unmatched:9,} {peak:6.0f} MB  {' '.join(f'{n:.1f}' for n in os.getloadavg())}"
                )
    finally:
        started = time.perf_counter()
        clean_up()
        print(f"Removed the scratch organization in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
