"""Benchmark of the organization data export: time, rows per second, queries and peak memory of the job.

Loads --referrals referrals (default 100,000), each with a status change,
into the referral export benchmark's scratch organization (the same data,
from `bench/referral_export.py`: the two cannot run at once), then runs the
export job as the worker does (`organization_export_run`) in a fresh
interpreter, so its peak memory is its own, Django included.

    DATABASE_URL=postgres://... .venv/bin/python bench/organization_export.py --referrals 100000
"""

import argparse
import multiprocessing
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from django.core.files.storage import default_storage
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

# Importing the referral export benchmark sets Django up (and DEBUG off), before the models below.
from referral_export import SLUG, peak_rss_mb, populate, remove_scratch_organization

from clinics.exports.registry import export_tables
from clinics.exports.services import EXPORT_LIFETIME, organization_export_run, storage_name
from clinics.models import Organization, OrganizationExport
from referrals.models import Referral, StatusChange


def add_history(organization: Organization) -> None:
    """One status change per referral: the history tables are read like the referrals."""
    StatusChange.objects.bulk_create(
        (
            StatusChange(
                organization=organization,
                referral_id=referral_id,
                to_status=status,
                changed_at=received_at,
            )
            for referral_id, status, received_at in Referral.objects.filter(organization=organization)
            .values_list("pk", "status", "received_at")
            .iterator(chunk_size=5000)
        ),
        batch_size=5000,
    )


def remove_exports() -> None:
    for export in OrganizationExport.objects.filter(organization__slug=SLUG):
        default_storage.delete(storage_name(organization_id=export.organization_id, export_id=export.pk))


def export_in_child(export_id: int, report) -> None:
    started, cpu_started = time.perf_counter(), time.process_time()
    with CaptureQueriesContext(connection) as queries:
        export = organization_export_run(export_id=export_id)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    if export is None or not export.file:
        raise SystemExit("The export was not written.")
    report.send(
        (elapsed, cpu, export.tables_done, export.rows_done, export.size, len(queries), peak_rss_mb())
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--referrals", type=int, default=100_000)
    args = parser.parse_args()

    remove_exports()
    remove_scratch_organization()
    organization = Organization.objects.create(name="Bench export", slug=SLUG)
    try:
        started = time.perf_counter()
        populate(organization, referrals=args.referrals, rng=random.Random(11))  # noqa: S311 (bench data)
        add_history(organization)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        loaded = time.perf_counter() - started
        print(f"{connection.vendor}: {args.referrals:,} referrals (loaded in {loaded:.0f} s)")
        export = OrganizationExport.objects.create(
            organization=organization, expires_at=timezone.now() + EXPORT_LIFETIME
        )
        connections.close_all()
        receiving, sending = multiprocessing.Pipe(duplex=False)
        # A fresh interpreter, not a fork: the memory of the loaded data is not counted as the export's.
        child = multiprocessing.get_context("spawn").Process(
            target=export_in_child, args=(export.pk, sending)
        )
        child.start()
        sending.close()
        try:
            seconds, cpu, tables, rows, size, queries, peak = receiving.recv()
        except EOFError:
            raise SystemExit(
                f"The export failed in its child process (exit code {child.exitcode})."
            ) from None
        child.join()
        print(
            f"{tables} tables ({len(export_tables())} registered), {rows:,} rows: {seconds:.1f} s, "
            f"{cpu:.1f} s of CPU, {rows / seconds:,.0f} rows/s, ZIP {size / 1e6:.1f} MB, "
            f"{queries} queries, peak {peak:.0f} MB"
        )
    finally:
        remove_exports()
        StatusChange.objects.filter(organization__slug=SLUG).delete()
        remove_scratch_organization()


if __name__ == "__main__":
    main()
