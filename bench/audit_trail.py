"""Benchmark of the access audit trail: what it costs the busiest pages, and how fast the audit search is.

Loads --referrals referrals (default 100,000) into a scratch organization
(slug "bench-audit", kept for --measure-only, removed at the start of
the next full run), then --events
access events (default 1,000,000) straight in SQL: 70 % a referral's page (one
referral each), 30 % a list page (25 referrals each), spread over 20 people
and the last two years. Their hashes are placeholders (the chain is not
verified here; `tests/audit` does that); the indexes and row counts are
those of a real trail.

Then, as a signed-in admin through Django's test client (the whole request,
middleware and template included), each page --runs times without the trail
(the recording step switched off) and with it, alternating request by
request so the shared machine's load weighs on both alike: the referral
list, a referral's page, the intake form; median time and queries; and the
event's write alone. Then the audit
search page by patient (a referral's number), by person, and by person over
one week, and the referral page's "who has seen this" panel.

    DATABASE_URL=postgres://... .venv/bin/python bench/audit_trail.py --referrals 100000 --events 1000000
"""

import argparse
import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SLUG = "bench-audit"
LIST_SHARE = 3  # in 10 events
LIST_ROWS = 25

sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("DEBUG", "false")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Max, Min  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from audit import recording  # noqa: E402
from audit.models import AccessKind  # noqa: E402
from audit.selectors import (  # noqa: E402
    AccessSearch,
    access_events_search,
    event_referral_ids,
    referral_seen_by,
)
from audit.services import PRUNE_SETTING, Access, access_record  # noqa: E402
from clinics.models import Clinic, Membership, Organization, Payer, PayerCategory, Role  # noqa: E402
from physicians.models import Physician, Practice  # noqa: E402
from referrals.models import Referral, Status  # noqa: E402


def remove_scratch_organization() -> None:
    organization = Organization.objects.filter(slug=SLUG).first()
    if organization is None:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        # The prune's permission: the only way past the append-only trigger.
        cursor.execute("SELECT set_config(%s, 'on', true)", [PRUNE_SETTING])
        cursor.execute("DELETE FROM audit_accesseventreferral WHERE organization_id = %s", [organization.pk])
        cursor.execute("DELETE FROM audit_accessevent WHERE organization_id = %s", [organization.pk])
        cursor.execute("DELETE FROM audit_chainhead WHERE organization_id = %s", [organization.pk])
    Referral.objects.filter(organization=organization).delete()
    organization.delete()
    User.objects.filter(username__startswith=f"{SLUG}.").delete()


def populate(*, referrals: int) -> tuple[Organization, User, list[User]]:
    organization = Organization.objects.create(name="Bench audit", slug=SLUG)
    clinics = [Clinic.objects.create(organization=organization, name=f"Bench clinic {i}") for i in range(3)]
    payer = Payer.objects.create(
        organization=organization, name="Bench payer", category=PayerCategory.COMMERCIAL
    )
    people = []
    for i in range(20):
        user = User.objects.create(username=f"{SLUG}.person{i}", first_name="Bench", last_name=f"Person {i}")
        Membership.objects.create(
            organization=organization,
            user=user,
            role=Role.ADMIN if i == 0 else Role.FRONT_DESK,
            home_clinic=clinics[0],
        )
        people.append(user)
    practices = Practice.objects.bulk_create(
        [Practice(organization=organization, name=f"Bench practice {i}") for i in range(200)]
    )
    physicians = Physician.objects.bulk_create(
        [
            Physician(
                organization=organization, first_name="Bench", last_name=f"Physician {i}", credential="MD"
            )
            for i in range(1000)
        ]
    )
    # One referral through the ORM, then the rest copied from it in one INSERT … SELECT, varying what
    # the pages sort, filter and show: every column a new migration adds is carried along as it is.
    template = Referral.objects.create(
        organization=organization,
        number=1,
        clinic=clinics[0],
        physician=physicians[0],
        referring_practice=practices[0],
        patient_first_name="Patient1",
        patient_last_name="Bench-Example",
        patient_birth_date=date(1960, 1, 1),
        patient_phone="+13035550100",
        received_at=timezone.now(),
        diagnosis_codes=["M54.50"],
        payer=payer,
        status=Status.RECEIVED,
    )
    varied = {
        "number": "g",
        "clinic_id": "(%(clinics)s::bigint[])[1 + g %% 3]",
        "physician_id": "(%(physicians)s::bigint[])[1 + (g * 7919) %% %(physician_count)s]",
        "referring_practice_id": "(%(practices)s::bigint[])[1 + (g * 104729) %% %(practice_count)s]",
        "patient_first_name": "'Patient' || g",
        "patient_birth_date": "date '1950-01-01' + ((g * 15485863) %% 20000)::int",
        "received_at": "now() - ((g * 32452843) %% (60 * 24 * 540)) * interval '1 minute'",
        "status": "(%(statuses)s::text[])[1 + (g * 31) %% 5]",
    }
    columns = [
        field.column for field in Referral._meta.concrete_fields if field.column and field.column != "id"
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO referrals_referral ({', '.join(columns)}) "  # noqa: S608  (column names from the model)
            f"SELECT {', '.join(varied.get(column, f't.{column}') for column in columns)} "
            "FROM referrals_referral t, generate_series(2::bigint, %(referrals)s) AS g "
            "WHERE t.id = %(template)s",
            {
                "template": template.pk,
                "referrals": referrals,
                "clinics": [clinic.pk for clinic in clinics],
                "physicians": [physician.pk for physician in physicians],
                "physician_count": len(physicians),
                "practices": [practice.pk for practice in practices],
                "practice_count": len(practices),
                "statuses": [
                    Status.RECEIVED,
                    Status.CONTACTED,
                    Status.SCHEDULED,
                    Status.EVALUATED,
                    Status.IN_CARE,
                ],
            },
        )
    return organization, people[0], people


AUDIT_TABLES = ("audit_accessevent", "audit_accesseventreferral")


def load_events(organization: Organization, people: list[User], *, events: int) -> None:
    """The events and their referral rows in two statements; the chain head placed after the last.

    The trail's secondary indexes are dropped for the load and built again after it, as a bulk
    load is done, from the definitions PostgreSQL gives: the same indexes the migrations made.
    """
    bounds = Referral.objects.filter(organization=organization).aggregate(low=Min("pk"), high=Max("pk"))
    low, span = bounds["low"], bounds["high"] - bounds["low"] + 1
    user_ids = [person.pk for person in people]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
        cursor.execute("SET LOCAL synchronous_commit = off")
        # Foreign keys checked as each row goes in: deferred checks would forbid building the indexes
        # in this transaction.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "JOIN pg_class c ON c.relname = i.indexname "
            "WHERE i.tablename = ANY(%s) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid)",
            [list(AUDIT_TABLES)],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute(
            """
            INSERT INTO audit_accessevent
                (organization_id, seq, at, user_id, ip_address, kind, path_name, object_type, object_id,
                 detail, referral_count, prev_hash, hash)
            SELECT %(organization)s, g,
                   now() - (%(events)s - g) * (interval '2 years' / %(events)s),
                   (%(users)s::bigint[])[1 + g %% %(people)s], '198.51.100.7', 'page',
                   CASE WHEN g %% 10 < %(list_share)s THEN 'referrals:list' ELSE 'referrals:detail' END,
                   '', NULL, '',
                   CASE WHEN g %% 10 < %(list_share)s THEN %(list_rows)s ELSE 1 END,
                   md5(g::text) || md5(g::text), md5((g + 1)::text) || md5((g + 1)::text)
            FROM generate_series(1, %(events)s) AS g
            """,
            {
                "organization": organization.pk,
                "events": events,
                "users": user_ids,
                "people": len(user_ids),
                "list_share": LIST_SHARE,
                "list_rows": LIST_ROWS,
            },
        )
        cursor.execute(
            """
            INSERT INTO audit_accesseventreferral (event_id, organization_id, referral_id)
            SELECT e.id, e.organization_id, %(low)s + ((e.seq * 7919 + k * 104729) %% %(span)s)
            FROM audit_accessevent e, generate_series(0, e.referral_count - 1) AS k
            WHERE e.organization_id = %(organization)s
            """,
            {"organization": organization.pk, "low": low, "span": span},
        )
        cursor.execute(
            "INSERT INTO audit_chainhead "
            "(organization_id, seq, last_hash, prev_hash, anchor_seq, anchor_hash) "
            "SELECT %s, %s, md5(%s::text) || md5(%s::text), md5(%s::text) || md5(%s::text), 0, %s",
            [organization.pk, events, events + 1, events + 1, events, events, "0" * 64],
        )
        for _, definition in indexes:
            cursor.execute(definition)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE audit_accessevent")
        cursor.execute("VACUUM ANALYZE audit_accesseventreferral")
        cursor.execute("VACUUM ANALYZE referrals_referral")


def one_request(client: Client, url: str) -> tuple[float, int]:
    with CaptureQueriesContext(connection) as captured:
        start = time.perf_counter()
        response = client.get(url)
        seconds = time.perf_counter() - start
    assert response.status_code == 200, (url, response.status_code)
    return seconds, len(captured.captured_queries)


def measure(client: Client, url: str, *, runs: int) -> tuple[float, int]:
    """Median seconds and the queries of one request (after a warm-up)."""
    client.get(url)
    timed = [one_request(client, url) for _ in range(runs)]
    return statistics.median(seconds for seconds, _ in timed), timed[-1][1]


def measure_both(client: Client, url: str, *, runs: int) -> tuple[tuple[float, int], tuple[float, int]]:
    """The page without and with the trail, alternating request by request, so the shared machine's
    load weighs on both alike; median seconds and queries of each."""
    record = recording._record
    without: list[tuple[float, int]] = []
    with_trail: list[tuple[float, int]] = []
    client.get(url)
    for _ in range(runs):
        recording._record = lambda *args, **kwargs: None
        without.append(one_request(client, url))
        recording._record = record
        with_trail.append(one_request(client, url))
    return (
        (statistics.median(seconds for seconds, _ in without), without[-1][1]),
        (statistics.median(seconds for seconds, _ in with_trail), with_trail[-1][1]),
    )


def timed_median(action, *, runs: int) -> float:
    action()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--measure-only", action="store_true", help="measure the data a previous run left")
    args = parser.parse_args()
    # Pages render {% static %}: no collected manifest is needed to measure them.
    settings.STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"
    print(f"{connection.vendor}; load average before: {os.getloadavg()}", flush=True)

    if args.measure_only:
        organization = Organization.objects.get(slug=SLUG)
        people = list(User.objects.filter(username__startswith=f"{SLUG}.person").order_by("pk"))
        admin = people[0]
    else:
        remove_scratch_organization()
        started = time.perf_counter()
        organization, admin, people = populate(referrals=args.referrals)
        print(f"loaded {args.referrals:,} referrals in {time.perf_counter() - started:.0f} s", flush=True)
        started = time.perf_counter()
        load_events(organization, people, events=args.events)
        print(f"loaded {args.events:,} events in {time.perf_counter() - started:.0f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_accessevent WHERE organization_id = %s", [organization.pk])
        events = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM audit_accesseventreferral WHERE organization_id = %s", [organization.pk]
        )
        shown_rows = cursor.fetchone()[0]
    referrals = Referral.objects.filter(organization=organization).count()
    print(f"{referrals:,} referrals, {events:,} events, {shown_rows:,} referral rows", flush=True)

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(admin)
    referral = Referral.objects.filter(organization=organization).order_by("?").first()
    assert referral is not None
    pages = {
        "referral list": reverse("referrals:list"),
        "referral page": reverse("referrals:detail", args=[referral.pk]),
        "intake form": reverse("referrals:intake"),
    }
    print(f"\n{'page':<16}{'without trail':>16}{'with trail':>16}{'change':>9}")
    for label, url in pages.items():
        (plain, plain_queries), (audited, audited_queries) = measure_both(client, url, runs=args.runs)
        print(
            f"{label:<16}{plain * 1000:>9.1f} ms {plain_queries:>3}q"
            f"{audited * 1000:>9.1f} ms {audited_queries:>3}q"
            f"{(audited / plain - 1) * 100:>+8.1f}%",
            flush=True,
        )
    # The write alone, as a list page makes it (50 referrals).
    ids = frozenset(Referral.objects.filter(organization=organization).values_list("pk", flat=True)[:50])
    write = timed_median(
        lambda: access_record(
            organization=organization,
            access=Access(kind=AccessKind.PAGE, user=admin, path_name="referrals:list", referral_ids=ids),
        ),
        runs=args.runs * 4,
    )
    print(f"one event with 50 referrals, written alone: {write * 1000:.1f} ms (median)", flush=True)

    busiest = people[1]
    searches = {
        "by patient (referral #)": f"{reverse('audit:search')}?referral={referral.number}",
        "by person": f"{reverse('audit:search')}?user={busiest.pk}",
        "by person, one week": f"{reverse('audit:search')}?user={busiest.pk}"
        f"&since={(timezone.localdate() - timedelta(days=400)):%Y-%m-%d}"
        f"&until={(timezone.localdate() - timedelta(days=394)):%Y-%m-%d}",
        "by kind, one day": f"{reverse('audit:search')}?kind=page"
        f"&since={(timezone.localdate() - timedelta(days=200)):%Y-%m-%d}"
        f"&until={(timezone.localdate() - timedelta(days=200)):%Y-%m-%d}",
    }
    by_search = {
        "by patient (referral #)": AccessSearch(referral_id=referral.pk),
        "by person": AccessSearch(user_id=busiest.pk),
    }
    print(f"\n{'audit search page (100 rows)':<32}{'median':>10}{'queries':>9}")
    for label, url in searches.items():
        seconds, queries = measure(client, url, runs=args.runs)
        print(f"{label:<32}{seconds * 1000:>7.1f} ms{queries:>9}", flush=True)
    print(f"\n{'the search queries alone (100 rows)':<36}{'median':>10}")
    for label, search in by_search.items():

        def run(search: AccessSearch = search) -> None:
            found = list(access_events_search(organization=organization, search=search)[:100])
            event_referral_ids(organization=organization, event_ids=[event.pk for event in found])

        print(f"{label:<36}{timed_median(run, runs=args.runs) * 1000:>7.1f} ms", flush=True)
    seen = timed_median(
        lambda: referral_seen_by(organization=organization, referral_id=referral.pk, limit=8), runs=args.runs
    )
    print(f"{'who has seen this (8 rows)':<36}{seen * 1000:>7.1f} ms", flush=True)


if __name__ == "__main__":
    main()
