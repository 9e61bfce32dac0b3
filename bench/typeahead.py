"""Typeahead latency at scale: p50/p95/p99 of the physician search with N physicians in one organization.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rapport_bench .venv/bin/python bench/typeahead.py

Creates a scratch organization (slug `bench-typeahead`) with --physicians
physicians in --practices practices, times --queries searches through the
same selector the endpoint uses (name fragments, NPI prefixes, practice
names, and names as faxes and people write them: titles, credentials,
"Last, First", misspellings, phone numbers in any format, an NPI's last four
digits), prints the figures overall and per kind, then deletes the organization.
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
from physicians.models import Affiliation, Physician, Practice, location_key  # noqa: E402
from physicians.search import physician_search_text, practice_search_text  # noqa: E402
from physicians.selectors import physician_search  # noqa: E402

WORDS = ["Front Range", "Cherry Creek", "Highlands", "Summit", "Aurora", "Golden", "Lakewood", "Boulder"]
KINDS = ["Orthopedics", "Family Medicine", "Sports Medicine", "Spine Center", "Internal Medicine", "Podiatry"]
CREDENTIALS = ["MD", "DO", "M.D.", "PA-C", "NP", "FNP-C", "DPM"]
MIDDLE = ["", "", "", "A.", "Marie", "J"]


def practice_phone(index: int) -> str:
    return f"(303) {200 + index // 10_000}-{index % 10_000:04d}"


def populate(organization: Organization, physicians: int, practices: int, rng: random.Random) -> None:
    practice_rows = []
    for index in range(practices):
        name = f"{rng.choice(WORDS)} {rng.choice(KINDS)} {index}"
        line1 = f"{index} Bench St"
        phone = practice_phone(index)
        practice_rows.append(
            Practice(
                organization=organization,
                name=name,
                address_line1=line1,
                city="Denver",
                state="CO",
                postal_code="80202",
                phone=phone,
                location_key=location_key(line1, "", "80202"),
                search_text=practice_search_text(name=name, city="Denver", phone=phone, fax=""),
            )
        )
    Practice.objects.bulk_create(practice_rows, batch_size=5000)
    practice_ids = list(Practice.objects.filter(organization=organization).values_list("pk", flat=True))
    batch = []
    for index in range(physicians):
        first_nine = f"1{index:08d}"
        first, last = rng.choice(FIRST), f"{rng.choice(LAST)}{'' if index % 3 else rng.randrange(100)}"
        middle, npi = rng.choice(MIDDLE), first_nine + str(npi_check_digit(first_nine))
        batch.append(
            Physician(
                organization=organization,
                npi=npi,
                first_name=first,
                middle_name=middle,
                last_name=last,
                credential=rng.choice(CREDENTIALS),
                search_text=physician_search_text(first_name=first, middle_name=middle, last_name=last),
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


def misspelled(rng: random.Random, name: str) -> str:
    """One letter doubled, dropped or swapped with the next, as a fax or a hurried hand spells a name."""
    at = rng.randrange(1, len(name) - 1)
    return rng.choice(
        [
            name[:at] + name[at] + name[at:],
            name[:at] + name[at + 1 :],
            name[:at] + name[at + 1] + name[at] + name[at + 2 :],
        ]
    )


def queries(rng: random.Random, count: int, practices: int) -> list[tuple[str, str]]:
    def phone() -> str:
        return practice_phone(rng.randrange(practices))

    def digits(text: str) -> str:
        return "".join(c for c in text if c.isdigit())

    def dotted(number: str) -> str:
        return f"{number[:3]}.{number[3:6]}.{number[6:]}"

    kinds = {
        "surname start": lambda: rng.choice(LAST)[: rng.randrange(2, 6)].lower(),
        "fragment inside a name": lambda: rng.choice(LAST)[1:5].lower(),
        "first name and surname start": lambda: f"{rng.choice(FIRST)} {rng.choice(LAST)[:3]}",
        "NPI prefix": lambda: f"1{rng.randrange(10**4):04d}",
        "practice name": lambda: rng.choice(WORDS).split()[0].lower(),
        "Dr. Surname": lambda: f"Dr. {rng.choice(LAST)}",
        "Surname, First": lambda: f"{rng.choice(LAST)}, {rng.choice(FIRST)}",
        "first surname": lambda: f"{rng.choice(FIRST)} {rng.choice(LAST)}".lower(),
        "Surname MD": lambda: f"{rng.choice(LAST)} MD",
        "misspelled surname": lambda: misspelled(rng, rng.choice([n for n in LAST if len(n) >= 5])).lower(),
        "O'Connell without apostrophe": lambda: "oconnell",
        "phone (503) 555-0142": phone,
        "phone 503.555.0142": lambda: dotted(digits(phone())),
        "phone 5035550142": lambda: digits(phone()),
        "NPI last 4": lambda: f"{rng.randrange(10**4):04d}",
    }
    names = list(kinds)
    return [(kind, kinds[kind]()) for kind in (rng.choice(names) for _ in range(count))]


def percentile(timings: list[float], share: float) -> float:
    ordered = sorted(timings)
    return ordered[max(0, int(len(ordered) * share) - 1)]


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
        samples = queries(rng, args.queries, args.practices)
        for _, query in samples[:20]:  # warm the caches
            physician_search(organization=organization, query=query)
        by_kind: dict[str, list[float]] = {}
        for kind, query in samples:
            started = time.perf_counter()
            physician_search(organization=organization, query=query)
            by_kind.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
        timings = [timing for kind in by_kind.values() for timing in kind]
        print(
            f"{len(timings)} searches: p50 {statistics.median(timings):.1f} ms, "
            f"p95 {percentile(timings, 0.95):.1f} ms, p99 {percentile(timings, 0.99):.1f} ms"
        )
        for kind, kind_timings in by_kind.items():
            print(
                f"  {kind:32} {len(kind_timings):4} searches: p50 {statistics.median(kind_timings):6.1f} ms, "
                f"p95 {percentile(kind_timings, 0.95):6.1f} ms"
            )
    finally:
        Organization.objects.filter(pk=organization.pk).delete()


if __name__ == "__main__":
    main()
