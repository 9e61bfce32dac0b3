"""The daily flag job at scale: time and queries of `flags_update` for one large organization.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rapport_bench .venv/bin/python bench/flag_job.py

Creates a scratch organization (slug `bench-flags`, deleted at the end, and
at the start if a crashed run left it) with --physicians sources held to a
cadence, each at a primary practice, about --touches touches and
--referrals referrals per source over the past 14 months; then runs the job
three times (first run, a rerun with nothing to change, a run 30 days later)
and the first page of the attention list, printing seconds, queries and
flag counts for each.
"""

import argparse
import os
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from clinics.models import Clinic, Organization  # noqa: E402
from outreach.flags import flags_update, sources_needing_attention  # noqa: E402
from outreach.models import Flag, Touch, TouchKind  # noqa: E402
from physicians.models import Affiliation, Physician, Practice, Stage, Tier  # noqa: E402
from referrals.models import Referral, StatusChange  # noqa: E402

SLUG = "bench-flags"
BATCH = 5000


def populate(organization, *, physicians: int, touches: float, referrals: float, rng: random.Random) -> None:
    now = timezone.now()
    Practice.objects.bulk_create(
        [Practice(organization=organization, name=f"Practice {i}") for i in range(max(1, physicians // 10))],
        batch_size=BATCH,
    )
    practice_ids = list(Practice.objects.filter(organization=organization).values_list("pk", flat=True))
    Physician.objects.bulk_create(
        [
            Physician(
                organization=organization,
                first_name="Bench",
                last_name=f"Source {i}",
                stage=Stage.MAINTAINING,
                tier=rng.choice(Tier.values),
            )
            for i in range(physicians)
        ],
        batch_size=BATCH,
    )
    physician_ids = list(Physician.objects.filter(organization=organization).values_list("pk", flat=True))
    Physician.objects.filter(pk__in=physician_ids).update(created_at=now - timedelta(days=500))
    Affiliation.objects.bulk_create(
        [
            Affiliation(
                organization=organization,
                physician_id=pk,
                practice_id=rng.choice(practice_ids),
                is_primary=True,
            )
            for pk in physician_ids
        ],
        batch_size=BATCH,
    )
    Touch.objects.bulk_create(
        (
            Touch(
                organization=organization,
                physician_id=rng.choice(physician_ids),
                kind=TouchKind.CALL,
                occurred_at=now - timedelta(days=rng.uniform(0, 365)),
            )
            for _ in range(int(physicians * touches))
        ),
        batch_size=BATCH,
    )
    clinic = Clinic.objects.create(organization=organization, name="Bench clinic")
    Referral.objects.bulk_create(
        (
            Referral(
                organization=organization,
                number=number,
                clinic=clinic,
                physician_id=rng.choice(physician_ids),
                patient_first_name="Bench",
                patient_last_name="Patient",
                patient_birth_date=date(1970, 1, 1),
                patient_phone="+13035550100",
                received_at=now - timedelta(days=rng.uniform(0, 425)),
            )
            for number in range(1, int(physicians * referrals) + 1)
        ),
        batch_size=BATCH,
    )


def remove_scratch_organization() -> None:
    # Referrals protect their physicians and clinic, so they go first.
    StatusChange.objects.filter(organization__slug=SLUG).delete()
    Referral.objects.filter(organization__slug=SLUG).delete()
    Organization.objects.filter(slug=SLUG).delete()


def measure(label: str, function) -> object:
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = function()
        elapsed = time.perf_counter() - started
    print(f"{label:<38} {elapsed:7.2f} s  {len(queries):3d} queries  {result}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--physicians", type=int, default=20_000)
    parser.add_argument("--touches", type=float, default=8, help="touches per physician (default 8)")
    parser.add_argument("--referrals", type=float, default=5, help="referrals per physician (default 5)")
    args = parser.parse_args()

    remove_scratch_organization()
    organization = Organization.objects.create(name="Bench flags", slug=SLUG)
    try:
        started = time.perf_counter()
        populate(
            organization,
            physicians=args.physicians,
            touches=args.touches,
            referrals=args.referrals,
            rng=random.Random(7),  # noqa: S311 (bench data)
        )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        touch_count = Touch.objects.filter(organization=organization).count()
        referral_count = Referral.objects.filter(organization=organization).count()
        print(
            f"{connection.vendor}: {args.physicians:,} sources, {touch_count:,} touches,"
            f" {referral_count:,} referrals (loaded in {time.perf_counter() - started:.0f} s)"
        )
        now = timezone.now()
        measure("first run", lambda: flags_update(organization=organization, now=now))
        measure("rerun, nothing to change", lambda: flags_update(organization=organization, now=now))
        measure(
            "30 days later", lambda: flags_update(organization=organization, now=now + timedelta(days=30))
        )
        measure(
            "attention list, first page of 30",
            lambda: len(list(sources_needing_attention(organization=organization, now=now)[:30])),
        )
        open_flags = Flag.objects.filter(organization=organization, closed_at__isnull=True).count()
        print(f"open flags: {open_flags:,}")
    finally:
        remove_scratch_organization()


if __name__ == "__main__":
    main()
