"""Typeahead latency at scale: p50/p95/p99 of the physician search with N physicians in one organization.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rapport_bench .venv/bin/python bench/typeahead.py

Creates a scratch organization (slug `bench-typeahead`) with --physicians
physicians in --practices practices, times --queries searches through the
same selector the endpoint uses (name fragments, NPI prefixes, practice
names), prints the figures, then deletes the organization.
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402

from clinics.models import Organization  # noqa: E402
from physicians.demo import FIRST_NAMES as FIRST  # noqa: E402
from physicians.demo import LAST_NAMES as LAST  # noqa: E402
from physicians.identifiers import npi_check_digit  # noqa: E402
from physicians.models import Affiliation, Physician, Practice, location_key, search_key  # noqa: E402
from physicians.selectors import physician_search  # noqa: E402

WORDS = ["Front Range", "Cherry Creek", "Highlands", "Summit", "Aurora", "Golden", "Lakewood", "Boulder"]
KINDS = ["Orthopedics", "Family Medicine", "Sports Medicine", "Spine Center", "Internal Medicine", "Podiatry"]


def populate(organization: Organization, physicians: int, practices: int, rng: random.Random) -> None:
    practice_rows = []
    for index in range(practices):
        name = f"{rng.choice(WORDS)} {rng.choice(KINDS)} {index}"
        line1 = f"{index} Bench St"
        practice_rows.append(
            Practice(
                organization=organization,
                name=name,
                address_line1=line1,
                city="Denver",
                state="CO",
                postal_code="80202",
                location_key=location_key(line1, "", "80202"),
                search_text=search_key(name, "Denver"),
            )
        )
    Practice.objects.bulk_create(practice_rows, batch_size=5000)
    practice_ids = list(Practice.objects.filter(organization=organization).values_list("pk", flat=True))
    batch = []
    for index in range(physicians):
        first_nine = f"1{index:08d}"
        first, last = rng.choice(FIRST), f"{rng.choice(LAST)}{'' if index % 3 else rng.randrange(100)}"
        batch.append(
            Physician(
                organization=organization,
                npi=first_nine + str(npi_check_digit(first_nine)),
                first_name=first,
                last_name=last,
                credential="MD",
                search_text=search_key(first, "", last, "MD"),
            )
        )
    Physician.objects.bulk_create(batch, batch_size=5000)
    Affiliation.objects.bulk_create(
        (
            Affiliation(
                organization=organization,
                physician_id=pk,
                practice_id=rng.choice(practice_ids),
                is_primary=True,
            )
            for pk in Physician.objects.filter(organization=organization).values_list("pk", flat=True)
        ),
        batch_size=5000,
    )


def vacuum() -> None:
    """What autovacuum does soon after a bulk load: fold GIN pending lists, refresh statistics."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in ("physicians_physician", "physicians_practice", "physicians_affiliation"):
                cursor.execute(f"VACUUM ANALYZE {table}")


def queries(rng: random.Random, count: int) -> list[str]:
    kinds = [
        lambda: rng.choice(LAST)[: rng.randrange(2, 6)].lower(),  # a surname prefix as typed
        lambda: rng.choice(LAST)[1:5].lower(),  # a fragment from inside a name
        lambda: f"{rng.choice(FIRST)} {rng.choice(LAST)[:3]}",  # first name and start of surname
        lambda: f"1{rng.randrange(10**4):04d}",  # an NPI prefix
        lambda: rng.choice(WORDS).split()[0].lower(),  # a practice name
    ]
    return [rng.choice(kinds)() for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--physicians", type=int, default=100_000)
    parser.add_argument("--practices", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    rng = random.Random(2026)  # noqa: S311 (benchmark data)

    Organization.objects.filter(slug="bench-typeahead").delete()
    organization = Organization.objects.create(name="Typeahead benchmark", slug="bench-typeahead")
    try:
        started = time.perf_counter()
        with transaction.atomic():
            populate(organization, args.physicians, args.practices, rng)
        vacuum()
        print(
            f"{connection.vendor}: {args.physicians:,} physicians in {args.practices:,} practices, "
            f"loaded in {time.perf_counter() - started:.1f} s"
        )
        samples = queries(rng, args.queries)
        for query in samples[:20]:  # warm the caches
            physician_search(organization=organization, query=query)
        timings = []
        for query in samples:
            started = time.perf_counter()
            physician_search(organization=organization, query=query)
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        p50 = statistics.median(timings)
        p95 = timings[int(len(timings) * 0.95) - 1]
        p99 = timings[int(len(timings) * 0.99) - 1]
        print(f"{len(timings)} searches: p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms")
    finally:
        Organization.objects.filter(pk=organization.pk).delete()


if __name__ == "__main__":
    main()
