"""Benchmark of the referral export: time, rows per second, queries and peak memory of the job.

Loads --referrals referrals (default 100,000) into a scratch organization
(slug "bench-export", deleted at the end, and at the start if a crashed run
left it), spread over clinics, physicians at practices, payers and
therapists, then runs the export job as the worker does
(`referral_export_run`): a small filtered export, the whole list without
patient data, and the whole list with it. Each run is in a child process of
its own (a fresh interpreter), so each peak memory figure is that run's
alone, Django included.

    DATABASE_URL=postgres://... .venv/bin/python bench/referral_export.py --referrals 100000
"""

import argparse
import multiprocessing
import os
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SLUG = "bench-export"
BATCH = 5000

sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
# With DEBUG on, Django records every query with its parameters; production runs without it.
os.environ.setdefault("DEBUG", "false")

import django  # noqa: E402

django.setup()

from django.core.files.storage import default_storage  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from clinics.models import Clinic, Membership, Organization, Payer, PayerCategory, Role  # noqa: E402
from physicians.models import Physician, Practice  # noqa: E402
from referrals.exports.columns import storage_name  # noqa: E402
from referrals.exports.services import EXPORT_LIFETIME, referral_export_run  # noqa: E402
from referrals.models import Referral, ReferralExport, Status  # noqa: E402


def peak_rss_mb() -> float:
    """This interpreter's peak resident memory (Linux).

    Read from VmHWM, not getrusage: Linux carries ru_maxrss across fork and
    exec, so a child would report the parent's memory.
    """
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024


def populate(organization: Organization, *, referrals: int, rng: random.Random) -> None:
    clinics = [Clinic.objects.create(organization=organization, name=f"Bench clinic {i}") for i in range(3)]
    payers = [
        Payer.objects.create(
            organization=organization, name=f"Bench payer {i}", category=PayerCategory.COMMERCIAL
        )
        for i in range(12)
    ]
    therapists = []
    for i in range(8):
        user = User.objects.create(
            username=f"{SLUG}.therapist{i}", first_name="Bench", last_name=f"Therapist {i}"
        )
        Membership.objects.create(organization=organization, user=user, role=Role.THERAPIST)
        therapists.append(user)
    practices = Practice.objects.bulk_create(
        [Practice(organization=organization, name=f"Bench practice {i}") for i in range(400)]
    )
    physicians = Physician.objects.bulk_create(
        [
            Physician(
                organization=organization, first_name="Bench", last_name=f"Physician {i}", credential="MD"
            )
            for i in range(2000)
        ]
    )
    now = timezone.now()
    statuses = [Status.RECEIVED, Status.CONTACTED, Status.SCHEDULED, Status.EVALUATED, Status.IN_CARE]
    Referral.objects.bulk_create(
        (
            Referral(
                organization=organization,
                # A scratch organization of its own: its numbers start at 1.
                number=n + 1,
                clinic=rng.choice(clinics),
                physician=rng.choice(physicians),
                referring_practice=rng.choice(practices),
                patient_first_name=f"Patient{n}",
                patient_last_name="Bench-Example",
                patient_birth_date=date(1950, 1, 1) + timedelta(days=rng.randrange(20000)),
                patient_phone="+13035550100",
                patient_email=f"patient{n}@example.org",
                received_at=now - timedelta(minutes=rng.randrange(60 * 24 * 540)),
                diagnosis_codes=rng.sample(["M54.50", "M17.11", "M25.561", "S83.511A", "M75.101"], 2),
                payer=rng.choice(payers),
                therapist=rng.choice(therapists),
                status=rng.choice(statuses),
            )
            for n in range(referrals)
        ),
        batch_size=BATCH,
    )


def remove_scratch_organization() -> None:
    for export in ReferralExport.objects.filter(organization__slug=SLUG):
        default_storage.delete(storage_name(organization_id=export.organization_id, export_id=export.pk))
    # Referrals protect their physicians, clinics and payers, so they go first.
    Referral.objects.filter(organization__slug=SLUG).delete()
    Organization.objects.filter(slug=SLUG).delete()
    User.objects.filter(username__startswith=f"{SLUG}.").delete()


def export_in_child(export_id: int, report) -> None:
    started, cpu_started = time.perf_counter(), time.process_time()
    with CaptureQueriesContext(connection) as queries:
        export = referral_export_run(export_id=export_id)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    if export is None or not export.file:
        raise SystemExit("The export was not written.")
    report.send((elapsed, cpu, export.rows_done, export.file.size, len(queries), peak_rss_mb()))


def timed_export(organization: Organization, *, filters: dict, include_patient_data: bool):
    export = ReferralExport.objects.create(
        organization=organization,
        filters=filters,
        filters_description="bench",
        time_zone="America/Denver",
        include_patient_data=include_patient_data,
        expires_at=timezone.now() + EXPORT_LIFETIME,
    )
    connections.close_all()
    receiving, sending = multiprocessing.Pipe(duplex=False)
    # A fresh interpreter, not a fork: the memory of the loaded data is not counted as the export's.
    child = multiprocessing.get_context("spawn").Process(target=export_in_child, args=(export.pk, sending))
    child.start()
    sending.close()  # the child's copy stays open: if it dies, recv() sees the end of the pipe
    try:
        outcome = receiving.recv()
    except EOFError:
        outcome = None
    child.join()
    if child.exitcode != 0 or outcome is None:
        raise SystemExit(f"The export failed in its child process (exit code {child.exitcode}).")
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--referrals", type=int, default=100_000)
    args = parser.parse_args()

    remove_scratch_organization()
    organization = Organization.objects.create(name="Bench export", slug=SLUG)
    try:
        started = time.perf_counter()
        populate(organization, referrals=args.referrals, rng=random.Random(11))  # noqa: S311 (bench data)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        loaded = time.perf_counter() - started
        print(f"{connection.vendor}: {args.referrals:,} referrals (loaded in {loaded:.0f} s)")
        one_clinic = Clinic.objects.filter(organization=organization).order_by("pk")[0]
        recent = (timezone.localdate() - timedelta(days=7)).isoformat()
        runs = [
            ("one clinic, last 7 days", {"clinic": one_clinic.pk, "received_from": recent}, False),
            ("everything, no patient data", {}, False),
            ("everything, with patient data", {}, True),
        ]
        columns = ("rows", "seconds", "CPU s", "rows/s", "file", "queries", "peak RSS")
        print(f"{'export':<32} " + " ".join(f"{name:>9}" for name in columns))
        for label, filters, include_patient_data in runs:
            seconds, cpu, rows, size, queries, peak = timed_export(
                organization, filters=filters, include_patient_data=include_patient_data
            )
            print(
                f"{label:<32} {rows:9,} {seconds:9.2f} {cpu:9.2f} {rows / seconds:9,.0f} {size / 1e6:6.1f} MB"
                f" {queries:9} {peak:6.0f} MB"
            )
    finally:
        remove_scratch_organization()


if __name__ == "__main__":
    main()
