# ruff: noqa: S608, E501 (hand-written SQL built from constants, no input from anyone; long SQL lines)
"""The dashboards at scale: pages at 1,000,000 referrals against 1,000, and against naive raw SQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rapport_bench .venv/bin/python bench/dashboards.py
    .venv/bin/python bench/dashboards.py --referrals 100000 --physicians 2000 --touches 300000   # SQLite

1. Loads two scratch organizations (slugs `bench-analytics-large` and
   `bench-analytics-small`, deleted at the end, and at the start if a crashed
   run left them): the large one with --referrals referrals and their
   history (every move through the pipeline, losses with their reasons,
   appointments, plans of care, visit and money totals), --physicians
   physicians in a tenth as many practices, and --touches touches over three
   years; the small one with 1,000 referrals and the same proportions.
   Rows are written with COPY on PostgreSQL (executemany elsewhere), in
   chunks, so memory stays flat.
2. Runs the daily flag job and builds the rollups (`rollups_rebuild`), timed.
3. Times each page, signed in as an admin, at both sizes: every dashboard
   (the default 90 days), the referral list, a dashboard drill-down, the
   queues, the busiest physician's page and the attention list (median of
   --repeat runs after one warm-up, with the queries each page ran).
4. On PostgreSQL, times the hand-written raw SQL that computes each
   dashboard's figures straight from the referrals, their history, plans and
   touches (the naive bound), and prints EXPLAIN (ANALYZE, BUFFERS) for the
   slowest query of the slowest dashboard.
"""

import argparse
import csv
import io
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("DEBUG", "false")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, models  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from analytics.models import ReferralFact, TouchDay  # noqa: E402
from analytics.rollups import rollups_rebuild  # noqa: E402
from analytics.sections import dashboard_sections  # noqa: E402
from clinics.models import Clinic, Membership, Organization, Payer, PayerCategory, Role  # noqa: E402
from outreach.flags import flags_update  # noqa: E402
from outreach.models import Flag, Touch, TouchKind  # noqa: E402
from physicians.models import Affiliation, Physician, Practice, Stage  # noqa: E402
from referrals.models import LossReason, PlanOfCare, Referral, ReferralCounter, Status, StatusChange  # noqa: E402

LARGE, SMALL = "bench-analytics-large", "bench-analytics-small"
HOST = "127.0.0.1"
CHUNK = 50_000
HISTORY_DAYS = 3 * 365
SPECIALTIES = [
    "207X00000X", "207XX0005X", "207XS0117X", "207Q00000X", "207R00000X", "208100000X",
    "2084N0400X", "213E00000X", "111N00000X", "363L00000X", "363A00000X", "207QS0010X",
]  # fmt: skip
KINDS = {
    TouchKind.CALL: 34, TouchKind.OFFICE_VISIT: 26, TouchKind.EMAIL: 16, TouchKind.LUNCH: 6,
    TouchKind.LETTER: 4, TouchKind.EVENT: 4, TouchKind.GIFT: 3, TouchKind.IN_SERVICE: 3,
}  # fmt: skip
# Where a referral's journey ends, once it has had the time: discharged, or lost at some step.
# Referrals still on their way (received weeks ago, in care for a month) are the recent ones,
# whose journey `now` cuts short, as in a clinic's real queues.
ENDS = {
    Status.DISCHARGED: 60,
    "lost_received": 7,
    "lost_contacted": 6,
    "lost_scheduled": 8,
    "lost_evaluated": 6,
}
PATH: list[str] = [
    Status.RECEIVED,
    Status.CONTACTED,
    Status.SCHEDULED,
    Status.EVALUATED,
    Status.IN_CARE,
    Status.DISCHARGED,
]
# Hours after the previous step each step takes, at least and at most.
STEP_HOURS: dict[str, tuple[int, int]] = {
    Status.CONTACTED: (1, 50),
    Status.SCHEDULED: (2, 120),
    Status.EVALUATED: (24, 240),
    Status.IN_CARE: (24, 72),
    Status.DISCHARGED: (240, 1200),
    Status.LOST: (12, 400),
}


# ---- Writing rows ---------------------------------------------------------------------------------


def _defaults(model: type[models.Model]) -> dict[str, object]:
    values: dict[str, object] = {}
    for field in model._meta.concrete_fields:
        if field.primary_key and isinstance(field, models.AutoField | models.BigAutoField):
            continue
        if field.has_default():
            values[field.attname] = field.get_default()
        elif isinstance(field, models.DateTimeField) and (field.auto_now or field.auto_now_add):
            values[field.attname] = timezone.now()
        elif field.null:
            values[field.attname] = None
        elif field.blank and isinstance(field, models.CharField | models.TextField):
            values[field.attname] = ""
    return values


def _value(field: models.Field, value: object) -> object:
    """A value as the database takes it: COPY's CSV on PostgreSQL, the backend's own form elsewhere."""
    if isinstance(value, list | dict):
        return json.dumps(value)
    if connection.vendor != "postgresql":
        return field.get_db_prep_save(value, connection)
    return value.isoformat() if isinstance(value, datetime | date) else value


def write(model: type[models.Model], rows: Iterable[dict[str, object]]) -> int:
    """Inserts `rows` (attname → value, the model's defaults filled in): COPY on PostgreSQL, in chunks."""
    defaults = _defaults(model)
    fields = [
        field
        for field in model._meta.concrete_fields
        if not (field.primary_key and isinstance(field, models.AutoField | models.BigAutoField))
    ]
    names = ", ".join(connection.ops.quote_name(cast(str, field.column)) for field in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    written = 0
    for chunk in _chunks(rows, CHUNK):
        values = [
            [
                _value(field, row[field.attname] if field.attname in row else defaults[field.attname])
                for field in fields
            ]
            for row in chunk
        ]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                buffer = io.StringIO()
                csv.writer(buffer, quoting=csv.QUOTE_NOTNULL).writerows(values)
                buffer.seek(0)
                cursor.cursor.copy_expert(f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)", buffer)
            else:
                marks = ", ".join(["%s"] * len(fields))
                cursor.executemany(
                    f"INSERT INTO {table} ({names}) VALUES ({marks})", cast(list[list[Any]], values)
                )
        written += len(values)
    return written


def _chunks(rows: Iterable[dict[str, object]], size: int) -> Iterator[list[dict[str, object]]]:
    chunk: list[dict[str, object]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# ---- The organization -----------------------------------------------------------------------------


class Directory:
    """What the referrals and touches are drawn from."""

    def __init__(self, organization: Organization, physicians: int, rng: random.Random) -> None:
        self.organization = organization
        self.clinics = [
            Clinic.objects.create(
                organization=organization, name=f"Bench clinic {n}", timezone="America/Denver"
            )
            for n in range(3)
        ]
        self.payers = list(
            Payer.objects.bulk_create(
                Payer(organization=organization, name=f"Bench payer {n}", category=PayerCategory.COMMERCIAL)
                for n in range(10)
            )
        )
        people = []
        for role, count in ((Role.ADMIN, 1), (Role.LIAISON, 5), (Role.THERAPIST, 4), (Role.FRONT_DESK, 2)):
            for n in range(count):
                user = User.objects.create_user(
                    username=f"{organization.slug}.{role}{n}", first_name=f"{role} {n}"
                )
                Membership.objects.create(organization=organization, user=user, role=role)
                people.append((role, user))
        self.admin = next(user for role, user in people if role == Role.ADMIN)
        self.liaisons = [user for role, user in people if role == Role.LIAISON]
        self.therapists = [user for role, user in people if role == Role.THERAPIST]
        Practice.objects.bulk_create(
            (
                Practice(organization=organization, name=f"Practice {n}")
                for n in range(max(2, physicians // 10))
            ),
            batch_size=5000,
        )
        practice_ids = list(Practice.objects.filter(organization=organization).values_list("pk", flat=True))
        Physician.objects.bulk_create(
            (
                Physician(
                    organization=organization,
                    first_name="Bench",
                    last_name=f"Source {n}",
                    taxonomy_code=rng.choice(SPECIALTIES),
                    stage=Stage.MAINTAINING,
                    tier=rng.choices("ABC", weights=[10, 30, 60])[0],
                    owner=rng.choice(self.liaisons) if rng.random() < 0.7 else None,
                )
                for n in range(physicians)
            ),
            batch_size=5000,
        )
        physicians_rows = list(
            Physician.objects.filter(organization=organization).values_list("pk", "taxonomy_code", "owner_id")
        )
        self.primary = {pk: rng.choice(practice_ids) for pk, _, _ in physicians_rows}
        Affiliation.objects.bulk_create(
            (
                Affiliation(organization=organization, physician_id=pk, practice_id=practice, is_primary=True)
                for pk, practice in self.primary.items()
            ),
            batch_size=5000,
        )
        self.physicians = [pk for pk, _, _ in physicians_rows]
        self.taxonomy = {pk: code for pk, code, _ in physicians_rows}
        self.owner = {pk: owner for pk, _, owner in physicians_rows}
        # A few sources send most referrals, as in real practice.
        weights = [rng.paretovariate(1.3) for _ in self.physicians]
        total = 0.0
        self.cumulative = []
        for weight in weights:
            total += weight
            self.cumulative.append(total)


def _referrals(
    directory: Directory, count: int, now: datetime, rng: random.Random
) -> Iterator[dict[str, object]]:
    organization = directory.organization
    for number in range(1, count + 1):
        physician = rng.choices(directory.physicians, cum_weights=directory.cumulative)[0]
        received_at = now - timedelta(days=rng.uniform(0, HISTORY_DAYS), minutes=rng.randrange(600))
        steps = _journey(received_at, now, rng)
        status, loss_reason, appointment = steps[-1][0], steps[-1][2], None
        reached = {step for step, _, _ in steps}
        if (Status.SCHEDULED in reached and status != Status.LOST) or Status.EVALUATED in reached:
            scheduled_at = next(at for step, at, _ in steps if step == Status.SCHEDULED)
            appointment = scheduled_at + timedelta(days=rng.uniform(1, 8))
        if status == Status.LOST and Status.EVALUATED not in reached:
            appointment = None
        evaluated = Status.EVALUATED in reached
        visits = rng.randint(1, 14) if evaluated else 0
        clinic = rng.choice(directory.clinics)
        yield {
            "organization_id": organization.pk,
            "number": number,
            "clinic_id": clinic.pk,
            "physician_id": physician,
            "referring_practice_id": directory.primary[physician],
            "referring_taxonomy_code": directory.taxonomy[physician],
            "patient_first_name": "Bench",
            "patient_last_name": f"Patient{number}",
            "patient_birth_date": date(1950, 1, 1) + timedelta(days=number % 20000),
            "patient_phone": "+13035550100",
            "received_at": received_at,
            "payer_id": rng.choice(directory.payers).pk if rng.random() < 0.9 else None,
            "therapist_id": rng.choice(directory.therapists).pk,
            "status": status,
            "loss_reason": loss_reason,
            "first_appointment_at": appointment,
            "first_appointment_clinic_id": clinic.pk if appointment else None,
            "visits_attended": visits,
            "billed_amount": Decimal(visits * 150),
            "collected_amount": Decimal(visits * rng.randint(80, 120)),
            "version": len(steps),
            "created_at": received_at,
            "updated_at": steps[-1][1],
            "_steps": steps,
        }


def _journey(received_at: datetime, now: datetime, rng: random.Random) -> list[tuple[str, datetime, str]]:
    """The moves of one referral up to now: (status, when, loss reason)."""
    end = rng.choices(list(ENDS), weights=list(ENDS.values()))[0]
    lost_after = end.removeprefix("lost_") if end.startswith("lost_") else None
    last = lost_after or end
    steps: list[tuple[str, datetime, str]] = [(Status.RECEIVED, received_at, "")]
    for status in PATH[1:]:
        if PATH.index(status) > PATH.index(last):
            break
        low, high = STEP_HOURS[status]
        at = steps[-1][1] + timedelta(hours=rng.uniform(low, high))
        if at > now:
            return steps
        steps.append((status, at, ""))
    if lost_after:
        at = steps[-1][1] + timedelta(hours=rng.uniform(*STEP_HOURS[Status.LOST]))
        if at <= now:
            steps.append((Status.LOST, at, rng.choice(LossReason.values)))
    return steps


def populate(organization: Organization, *, referrals: int, physicians: int, touches: int, seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 (bench data)
    now = timezone.now()
    directory = Directory(organization, physicians, rng)
    pending: list[dict[str, object]] = []

    def flush() -> None:
        histories = {
            cast(int, row["number"]): cast(list[tuple[str, datetime, str]], row.pop("_steps"))
            for row in pending
        }
        write(Referral, pending)
        ids = dict(
            Referral.objects.filter(organization=organization, number__in=list(histories)).values_list(
                "number", "pk"
            )
        )
        changes, plans = [], []
        for number, steps in histories.items():
            previous = ""
            for status, at, reason in steps:
                changes.append(
                    {
                        "organization_id": organization.pk,
                        "referral_id": ids[number],
                        "from_status": previous,
                        "to_status": status,
                        "loss_reason": reason,
                        "changed_by_id": directory.admin.pk,
                        "changed_at": at,
                    }
                )
                previous = status
                if status == Status.EVALUATED and rng.random() < 0.8:
                    starts = at.date()
                    signed = starts + timedelta(days=rng.randint(2, 50))
                    plans.append(
                        {
                            "organization_id": organization.pk,
                            "referral_id": ids[number],
                            "certifier_id": rng.choice(directory.physicians),
                            "starts_on": starts,
                            "ends_on": starts + timedelta(days=89),
                            "signed_on": signed if signed <= now.date() else None,
                        }
                    )
        write(StatusChange, changes)
        write(PlanOfCare, plans)
        pending.clear()

    for row in _referrals(directory, referrals, now, rng):
        pending.append(row)
        if len(pending) == CHUNK:
            flush()
    if pending:
        flush()
    ReferralCounter.objects.update_or_create(organization=organization, defaults={"last_number": referrals})
    kinds, weights = list(KINDS), list(KINDS.values())

    def touch_rows() -> Iterator[dict[str, object]]:
        for _ in range(touches):
            physician = rng.choices(directory.physicians, cum_weights=directory.cumulative)[0]
            practice_level = rng.random() < 0.1
            maker = directory.owner[physician] or rng.choice(directory.liaisons).pk
            yield {
                "organization_id": organization.pk,
                "physician_id": None if practice_level else physician,
                "practice_id": directory.primary[physician] if practice_level else None,
                "kind": rng.choices(kinds, weights=weights)[0],
                "occurred_at": now - timedelta(days=rng.uniform(0, HISTORY_DAYS)),
                "made_by_id": maker,
                "logged_by_id": maker,
                "created_at": now,
            }

    write(Touch, touch_rows())
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def remove_scratch_organizations() -> None:
    """Deletes the scratch organizations: the big tables by plain DELETEs, children first, the rest by Django.

    Django's cascade would read a million referrals and their history into
    memory to delete them one relation at a time.
    """
    for slug in (LARGE, SMALL):
        for model in (ReferralFact, TouchDay, Flag, Touch, PlanOfCare, StatusChange, Referral):
            model.objects.filter(organization__slug=slug)._raw_delete(connection.alias)
        User.objects.filter(username__startswith=f"{slug}.").delete()
        Organization.objects.filter(slug=slug).delete()


# ---- Measuring ------------------------------------------------------------------------------------


def timed(function: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def page_times(client: Client, url: str, repeat: int) -> tuple[float, int, str]:
    """Median seconds of `repeat` GETs after a warm-up, the queries of one, and its slowest query."""
    response = client.get(url, HTTP_HOST=HOST)
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            seconds, _ = timed(lambda: client.get(url, HTTP_HOST=HOST))
        times.append(seconds)
    slowest = max(queries.captured_queries, key=lambda query: float(query["time"]))["sql"]
    return statistics.median(times), len(queries), slowest


def pages(organization: Organization) -> dict[str, str]:
    busiest = (
        Referral.objects.filter(organization=organization)
        .values("physician_id")
        .annotate(n=models.Count("pk"))
        .order_by("-n")[0]["physician_id"]
    )
    urls = {f"dashboard: {section.key}": f"/analytics/{section.key}/" for section in dashboard_sections()}
    today = timezone.now().date()
    urls |= {
        "referral list": "/referrals/",
        "drill-down (evaluated, 90 days)": (
            f"/referrals/?received_since={today - timedelta(days=89)}&received_until={today}"
            "&funnel=reached_evaluated"
        ),
        "queues": "/referrals/queues/",
        "physician page (busiest)": f"/directory/{busiest}/",
        "attention list": "/outreach/attention/",
    }
    return urls


# The naive bound: each dashboard's figures straight from the raw tables, by hand, on PostgreSQL.
CONTACTED = "('contacted','scheduled','evaluated','in_care','discharged')"
SCHEDULED = "('scheduled','evaluated','in_care','discharged')"
EVALUATED = "('evaluated','in_care','discharged')"
MILESTONES = f"""
    WITH m AS (
      SELECT r.id, r.status, r.received_at, r.first_appointment_at, r.loss_reason,
        min(s.changed_at) FILTER (WHERE s.to_status IN {CONTACTED}) AS contacted,
        min(s.changed_at) FILTER (WHERE s.to_status IN {SCHEDULED}) AS scheduled,
        min(s.changed_at) FILTER (WHERE s.to_status IN {EVALUATED}) AS evaluated,
        min(s.changed_at) FILTER (WHERE s.to_status = 'discharged') AS discharged,
        min(s.changed_at) FILTER (WHERE s.from_status = 'received') AS left_received,
        (array_agg(s.from_status ORDER BY s.changed_at DESC) FILTER (WHERE s.to_status = 'lost'))[1] AS lost_from
      FROM referrals_referral r JOIN referrals_statuschange s ON s.referral_id = r.id
      WHERE r.organization_id = %(org)s AND r.received_at >= %(start)s AND r.received_at < %(end)s
      GROUP BY r.id)
    SELECT count(*), count(contacted), count(scheduled), count(evaluated), count(discharged),
      count(*) FILTER (WHERE status = 'lost' AND lost_from = 'received'),
      count(*) FILTER (WHERE status = 'lost' AND lost_from = 'contacted'),
      count(*) FILTER (WHERE status = 'lost' AND lost_from = 'scheduled'),
      count(*) FILTER (WHERE status = 'lost' AND lost_from IN ('evaluated', 'in_care')),
      count(*) FILTER (WHERE left_received > received_at + interval '1 day'),
      percentile_cont(0.5) WITHIN GROUP (ORDER BY contacted - received_at),
      percentile_cont(0.9) WITHIN GROUP (ORDER BY contacted - received_at),
      percentile_cont(0.5) WITHIN GROUP (ORDER BY scheduled - received_at),
      percentile_cont(0.9) WITHIN GROUP (ORDER BY scheduled - received_at),
      percentile_cont(0.5) WITHIN GROUP (ORDER BY coalesce(first_appointment_at, evaluated) - received_at)
        FILTER (WHERE evaluated IS NOT NULL),
      percentile_cont(0.9) WITHIN GROUP (ORDER BY coalesce(first_appointment_at, evaluated) - received_at)
        FILTER (WHERE evaluated IS NOT NULL)
    FROM m"""
EVALUATED_EVER = f"""(r.status IN {EVALUATED} OR EXISTS (SELECT 1 FROM referrals_statuschange s
    WHERE s.referral_id = r.id AND s.to_status IN {EVALUATED}))"""
NAIVE: dict[str, list[str]] = {
    "pipeline": [
        MILESTONES,
        MILESTONES.replace("%(start)s", "%(previous)s").replace("%(end)s", "%(start)s"),
        """SELECT loss_reason, count(*) FROM referrals_referral WHERE organization_id = %(org)s
           AND status = 'lost' AND received_at >= %(start)s AND received_at < %(end)s GROUP BY 1""",
        """SELECT clinic_id, status, count(*) FROM referrals_referral WHERE organization_id = %(org)s
           AND status IN ('received','contacted','scheduled','evaluated','in_care') GROUP BY 1, 2""",
    ],
    "sources": [
        """SELECT date_trunc('week', received_at AT TIME ZONE 'America/Denver'), count(*) FROM referrals_referral
           WHERE organization_id = %(org)s AND received_at >= %(start)s AND received_at < %(end)s GROUP BY 1""",
        """SELECT date_trunc('month', received_at AT TIME ZONE 'America/Denver'), count(*) FROM referrals_referral
           WHERE organization_id = %(org)s AND received_at >= %(year)s AND received_at < %(end)s GROUP BY 1""",
        f"""SELECT physician_id, count(*) FILTER (WHERE received_at >= %(start)s) AS now,
             count(*) FILTER (WHERE received_at < %(start)s), count(*) FILTER (WHERE received_at >= %(start)s
             AND {EVALUATED_EVER}) FROM referrals_referral r WHERE organization_id = %(org)s
             AND received_at >= %(previous)s AND received_at < %(end)s GROUP BY 1 ORDER BY now DESC LIMIT 15""",
        f"""SELECT referring_practice_id, count(*) FILTER (WHERE received_at >= %(start)s) AS now,
             count(*) FILTER (WHERE received_at < %(start)s), count(*) FILTER (WHERE received_at >= %(start)s
             AND {EVALUATED_EVER}) FROM referrals_referral r WHERE organization_id = %(org)s
             AND received_at >= %(previous)s AND received_at < %(end)s GROUP BY 1 ORDER BY now DESC LIMIT 10""",
        f"""SELECT referring_taxonomy_code, count(*) FILTER (WHERE received_at >= %(start)s),
             count(*) FILTER (WHERE received_at < %(start)s), count(*) FILTER (WHERE received_at >= %(start)s
             AND {EVALUATED_EVER}) FROM referrals_referral r WHERE organization_id = %(org)s
             AND received_at >= %(previous)s AND received_at < %(end)s GROUP BY 1""",
        """SELECT physician_id, count(*) FROM referrals_referral r WHERE organization_id = %(org)s
           AND received_at >= %(start)s AND received_at < %(end)s AND NOT EXISTS (SELECT 1 FROM referrals_referral e
           WHERE e.organization_id = r.organization_id AND e.physician_id = r.physician_id
           AND e.received_at < %(start)s) GROUP BY 1""",
        """SELECT physician_id, kind, severity FROM outreach_flag WHERE organization_id = %(org)s
           AND closed_at IS NULL""",
    ],
    "revenue": [
        """SELECT count(*), sum(visits_attended), sum(billed_amount), sum(collected_amount) FROM referrals_referral
           WHERE organization_id = %(org)s AND received_at >= %(previous)s AND received_at < %(end)s
           GROUP BY received_at >= %(start)s""",
        *(
            f"""SELECT {column}, count(*), sum(visits_attended), sum(billed_amount), sum(collected_amount) AS c
                FROM referrals_referral WHERE organization_id = %(org)s AND received_at >= %(start)s
                AND received_at < %(end)s GROUP BY 1 ORDER BY c DESC"""
            for column in ("physician_id", "referring_practice_id", "referring_taxonomy_code", "payer_id")
        ),
        """SELECT physician_id, payer_id, count(*) FROM referrals_referral WHERE organization_id = %(org)s
           AND received_at >= %(start)s AND received_at < %(end)s AND physician_id IN (SELECT physician_id
           FROM referrals_referral WHERE organization_id = %(org)s AND received_at >= %(start)s
           AND received_at < %(end)s GROUP BY 1 ORDER BY sum(collected_amount) DESC LIMIT 15) GROUP BY 1, 2""",
    ],
    "outreach": [
        """SELECT kind, count(*) FILTER (WHERE occurred_at >= %(start)s), count(*) FILTER (WHERE occurred_at
           < %(start)s) FROM outreach_touch WHERE organization_id = %(org)s AND occurred_at >= %(previous)s
           AND occurred_at < %(end)s GROUP BY 1""",
        """SELECT made_by_id, count(*) FROM outreach_touch WHERE organization_id = %(org)s
           AND occurred_at >= %(previous)s AND occurred_at < %(end)s GROUP BY 1""",
        """SELECT t.physician_id, count(*) AS n, (SELECT count(*) FROM referrals_referral r
             WHERE r.organization_id = %(org)s AND r.physician_id = t.physician_id AND r.received_at >= %(start)s
             AND r.received_at < %(end)s) FROM outreach_touch t WHERE organization_id = %(org)s
           AND occurred_at >= %(start)s AND occurred_at < %(end)s AND physician_id IS NOT NULL
           GROUP BY 1 ORDER BY n DESC LIMIT 15""",
        # The lift's treated sources: each first touch of a kind, its referrals 60 days before and after;
        # then the comparison: every source of each tier, the same windows around each event day.
        """WITH events AS (SELECT physician_id, kind, min(occurred_at) AS at FROM outreach_touch
             WHERE organization_id = %(org)s AND physician_id IS NOT NULL AND occurred_at >= %(start)s
             AND occurred_at < %(end)s - interval '60 days' GROUP BY 1, 2)
           SELECT e.kind, avg((SELECT count(*) FROM referrals_referral r WHERE r.organization_id = %(org)s
             AND r.physician_id = e.physician_id AND r.received_at >= e.at AND r.received_at < e.at + interval
             '60 days') - (SELECT count(*) FROM referrals_referral r WHERE r.organization_id = %(org)s
             AND r.physician_id = e.physician_id AND r.received_at >= e.at - interval '60 days'
             AND r.received_at < e.at)) FROM events e GROUP BY 1""",
        """WITH days AS (SELECT DISTINCT date_trunc('day', occurred_at) AS at FROM outreach_touch
             WHERE organization_id = %(org)s AND occurred_at >= %(start)s
             AND occurred_at < %(end)s - interval '60 days')
           SELECT d.at, p.tier, count(*) FILTER (WHERE r.received_at >= d.at) - count(*) FILTER
             (WHERE r.received_at < d.at) FROM days d JOIN referrals_referral r ON r.organization_id = %(org)s
             AND r.received_at >= d.at - interval '60 days' AND r.received_at < d.at + interval '60 days'
           JOIN physicians_physician p ON p.id = r.physician_id GROUP BY 1, 2""",
    ],
    "plans": [
        """WITH first AS (SELECT DISTINCT ON (p.referral_id) p.referral_id, p.starts_on, p.signed_on, r.received_at
             FROM referrals_planofcare p JOIN referrals_referral r ON r.id = p.referral_id
             WHERE r.organization_id = %(org)s AND r.received_at >= %(previous)s AND r.received_at < %(end)s
             ORDER BY p.referral_id, p.starts_on, p.id)
           SELECT received_at >= %(start)s, count(*), count(*) FILTER (WHERE signed_on <= starts_on + 30),
             count(*) FILTER (WHERE signed_on > starts_on + 30), count(*) FILTER (WHERE signed_on IS NULL)
           FROM first GROUP BY 1""",
        """SELECT a.practice_id, count(*) FROM referrals_planofcare p JOIN referrals_referral r ON r.id = p.referral_id
           LEFT JOIN physicians_affiliation a ON a.physician_id = p.certifier_id AND a.is_primary
           WHERE p.organization_id = %(org)s AND p.signed_on IS NULL AND p.starts_on < %(due)s
           AND r.status IN ('received','contacted','scheduled','evaluated','in_care') GROUP BY 1""",
    ],
}


def naive_seconds(organization: Organization, queries: list[str], repeat: int) -> float:
    now = timezone.now()
    start = now - timedelta(days=90)
    params = {
        "org": organization.pk,
        "start": start,
        "end": now,
        "previous": start - timedelta(days=90),
        "year": now - timedelta(days=400),
        "due": now.date() - timedelta(days=30),
    }
    times = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for sql in queries:
                cursor.execute(sql, cast(dict[str, Any], params))
                cursor.fetchall()
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--referrals", type=int, default=1_000_000)
    parser.add_argument("--physicians", type=int, default=20_000)
    parser.add_argument("--touches", type=int, default=3_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch organizations (to rerun --measure-only)"
    )
    parser.add_argument(
        "--measure-only", action="store_true", help="measure organizations a --keep run left, and keep them"
    )
    args = parser.parse_args()
    # Pages render {% static %}: no collected manifest is needed to measure them.
    settings.STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"
    print(f"{connection.vendor}; load average before: {os.getloadavg()}")

    sizes = {
        SMALL: (
            1000,
            max(20, args.physicians * 1000 // args.referrals),
            args.touches * 1000 // args.referrals,
        ),
        LARGE: (args.referrals, args.physicians, args.touches),
    }
    if not args.measure_only:
        remove_scratch_organizations()
        for seed, (slug, (referrals, physicians, touches)) in enumerate(sizes.items()):
            organization = Organization.objects.create(name=slug, slug=slug, timezone="America/Denver")
            seconds, _ = timed(
                partial(
                    populate,
                    organization,
                    referrals=referrals,
                    physicians=physicians,
                    touches=touches,
                    seed=seed,
                )
            )
            counts = {
                model.__name__: model.objects.filter(organization=organization).count()
                for model in (Referral, StatusChange, PlanOfCare, Touch, Physician)
            }
            print(f"{slug}: loaded {counts} in {seconds:.0f} s")
            seconds, changes = timed(partial(flags_update, organization=organization))
            print(f"{slug}: flag job {seconds:.1f} s ({changes})")
            seconds, covered = timed(partial(rollups_rebuild, organization=organization))
            print(f"{slug}: rollups rebuilt for {covered:,} referrals in {seconds:.1f} s")
        if connection.vendor == "postgresql":
            # What autovacuum does after a bulk load: statistics for the planner, and the
            # visibility map that lets an index answer a count without the table's rows.
            with connection.cursor() as cursor:
                cursor.execute("VACUUM (ANALYZE)")
    try:
        results: dict[str, dict[str, tuple[float, int, str]]] = {}
        for slug in (SMALL, LARGE):
            organization = Organization.objects.get(slug=slug)
            client = Client()
            client.force_login(User.objects.get(username=f"{slug}.admin0"))
            results[slug] = {
                name: page_times(client, url, args.repeat) for name, url in pages(organization).items()
            }
        print(f"\n{'page':<34} {'1k (s)':>8} {'large (s)':>10} {'ratio':>6} {'queries 1k/large':>18}")
        for name, (small, small_queries, _) in results[SMALL].items():
            large, large_queries, _ = results[LARGE][name]
            print(
                f"{name:<34} {small:8.3f} {large:10.3f} {large / small:6.2f} {small_queries:>8}/{large_queries:<8}"
            )
        if connection.vendor == "postgresql":
            organization = Organization.objects.get(slug=LARGE)
            print(f"\n{'dashboard at the large size':<34} {'page (s)':>9} {'naive SQL (s)':>14} {'ratio':>6}")
            for key, queries in NAIVE.items():
                naive = naive_seconds(organization, queries, args.repeat)
                page = results[LARGE][f"dashboard: {key}"][0]
                print(f"{key:<34} {page:9.3f} {naive:14.3f} {page / naive:6.2f}")
            slowest = max(
                (name for name in results[LARGE] if name.startswith("dashboard")),
                key=lambda name: results[LARGE][name][0],
            )
            print(f"\nEXPLAIN of the slowest query of the slowest dashboard ({slowest}):")
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + results[LARGE][slowest][2])
                print("\n".join(row[0] for row in cursor.fetchall()))
        print(f"\nload average after: {os.getloadavg()}")
    finally:
        # A measuring run leaves what it measured: it took a --keep run twenty minutes to load.
        if not (args.keep or args.measure_only):
            remove_scratch_organizations()


if __name__ == "__main__":
    main()
