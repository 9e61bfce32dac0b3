# ruff: noqa: S608 (the statements are built from this module's constants, never from input)
"""Applying an import's checked rows on PostgreSQL, set-based: the same outcome as billing/apply_portable.py.

Building model instances, and a query per batch of keys, cost more than the
database's own work, so rows go to PostgreSQL in bulk and it decides and
writes them all in a handful of statements, whatever the file's size:

1. **Stage** (while the file is read and checked): rows are copied
   (`COPY`), `STAGE_ROWS` at a time, into a temporary table. A file with a
   line that cannot be read stops here: nothing but that table was written.
2. **Plan**, one statement: each row's key (identical lines numbered “#2”…,
   a line id repeated in the file marked), what the organization has under
   that key (a charge line or a payment, a review row, a removal by hand),
   and its `Plan`: `import_rows.plan_of`'s rules, in SQL (`PLAN_CASE`).
3. **Lock** the referrals whose totals change, in id order, in one statement.
4. **Write**: the visits of the new lines' days, with their lines' codes,
   sum and payer (`INSERT … SELECT … ON CONFLICT (organization, key) DO
   NOTHING`: a day that has its visit keeps it); the lines themselves (the
   same, on the line's key, `RETURNING` what was written); the lines the
   EMR changed, moved to their day's visit; the visits that were there and
   whose lines changed, recomputed from them, and emptied ones removed.
   Payments: inserted or updated likewise. Unmatched rows listed for review;
   pending review rows now matched, resolved.
5. The touched referrals' totals, in one UPDATE (`referral_totals_recompute_where`).

The counts come from the plan (a new row another import wrote in the
meantime counts as unchanged), and the lines listed with each outcome are
the first of each in the file, as the portable path lists them.
"""

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.db.models.expressions import RawSQL
from django.utils import timezone

from referrals.models import Referral

from .import_rows import OUTCOME, OUTCOMES_KEPT, ImportedRow, ImportResult, Plan, describe
from .models import BillingImport, ImportKind, ReviewStatus, RowSource
from .services import referral_totals_recompute_where

STAGE_ROWS = 10_000
# Sorting and hashing a million staged rows in memory rather than in temporary files, for this transaction.
WORK_MEM = "64MB"

STAGED_COLUMNS = (
    "seq",
    "line",
    "ident",
    "fingerprint",
    "day",
    "amount",
    "codes",
    "kind",
    "reference",
    "payer_id",
    "file_clinic_id",
    "clinic_id",
    "referral_id",
    "referral_number",
    "matched_by",
    "reason",
    "candidate_ids",
    "review",
)
CREATE_STAGED = """
    CREATE TEMPORARY TABLE billing_staged (
        seq integer NOT NULL,
        line integer NOT NULL,
        ident text NOT NULL,
        fingerprint text NOT NULL,
        day date NOT NULL,
        amount numeric(10, 2) NOT NULL,
        codes jsonb NOT NULL,
        kind text NOT NULL,
        reference text NOT NULL,
        payer_id bigint,
        file_clinic_id bigint,
        clinic_id bigint,
        referral_id bigint,
        referral_number integer,
        matched_by text NOT NULL,
        reason text NOT NULL,
        candidate_ids jsonb NOT NULL,
        review jsonb
    )
"""
TEMPORARY_TABLES = ("billing_staged", "billing_plan", "billing_referrals", "billing_made", "billing_touched")


def visit_key_sql(referral: str, day: str, clinic: str) -> str:
    """`models.visit_key` in SQL; `to_char` writes the date in ISO whatever the server's DateStyle."""
    return f"'visit:' || {referral} || ':' || to_char({day}, 'YYYY-MM-DD') || ':' || {clinic}"


PLAN_CASE = f"""
    CASE
        WHEN k.duplicate THEN '{Plan.DUPLICATE}'
        WHEN known.id IS NOT NULL THEN
            CASE WHEN known.row_fingerprint = k.fingerprint THEN '{Plan.SAME}' ELSE '{Plan.CHANGED}' END
        WHEN k.key IN (SELECT row_key FROM removed) OR k.visit_key IN (SELECT row_key FROM removed)
            THEN '{Plan.REMOVED}'
        WHEN review.status = '{ReviewStatus.DISMISSED}' THEN '{Plan.DISMISSED}'
        WHEN k.referral_id IS NULL THEN
            CASE WHEN review.id IS NULL THEN '{Plan.UNMATCHED}' ELSE '{Plan.LISTED}' END
        ELSE '{Plan.NEW}'
    END
"""
PLAN = """
    CREATE TEMPORARY TABLE billing_plan AS
    WITH removed AS (
        SELECT row_key FROM billing_billingcorrection
        WHERE organization_id = %(organization)s AND row_kind = %(row_kind)s AND action = 'removed'
    ), numbered AS (
        SELECT s.*, row_number() OVER (PARTITION BY s.ident ORDER BY s.seq) AS occurrence
        FROM billing_staged s
    ), k AS (
        SELECT n.*,
            CASE WHEN n.occurrence > 1 AND n.ident LIKE 'h:%%' THEN n.ident || '#' || n.occurrence
                 ELSE n.ident END AS key,
            n.occurrence > 1 AND n.ident NOT LIKE 'h:%%' AS duplicate,
            CASE WHEN n.clinic_id IS NOT NULL THEN {visit_key} END AS visit_key
        FROM numbered n
    )
    SELECT k.*, known.id AS known_id, {known_columns}, review.id AS review_id, {plan} AS plan
    FROM k
    {known_join}
    LEFT JOIN billing_reviewrow review
        ON review.organization_id = %(organization)s AND review.kind = %(kind)s AND review.row_key = k.key
"""
VISIT_KNOWN_JOIN = """
    LEFT JOIN billing_chargeline known ON known.organization_id = %(organization)s AND known.row_key = k.key
    LEFT JOIN billing_visit visit ON visit.id = known.visit_id
"""
VISIT_KNOWN_COLUMNS = """
    known.visit_id AS known_visit_id, visit.referral_id AS known_referral_id,
    visit.row_key AS known_visit_key,
    COALESCE(k.file_clinic_id, known.clinic_id) AS moved_clinic_id,
    {moved_key} AS moved_key
"""
PAYMENT_KNOWN_JOIN = """
    LEFT JOIN billing_payment known
        ON known.organization_id = %(organization)s AND known.row_key = k.key AND NOT (known.row_key = '')
"""
PAYMENT_KNOWN_COLUMNS = "known.referral_id AS known_referral_id"

# The visits the new lines make, and those the changed lines move to: with their lines' codes,
# sum and payer, as `RECOMPUTE_VISITS` would give them.
MAKE_VISITS = f"""
    WITH wanted AS (
        SELECT p.visit_key AS key, p.referral_id, p.day, p.clinic_id, p.seq, p.codes, p.amount, p.payer_id
        FROM billing_plan p WHERE p.plan = '{Plan.NEW}'
        UNION ALL
        SELECT p.moved_key, p.known_referral_id, p.day, p.moved_clinic_id, p.seq, p.codes, p.amount,
            p.payer_id
        FROM billing_plan p
        WHERE p.plan = '{Plan.CHANGED}' AND p.moved_key <> p.known_visit_key
    ), made AS (
        INSERT INTO billing_visit (
            organization_id, referral_id, source, import_run_id, row_key, created_by_id, created_at,
            updated_at, service_date, clinic_id, procedure_codes, billed_amount, payer_id, visit_count
        )
        -- The key names the referral, the day and the clinic: min() picks the one value each has.
        SELECT %(organization)s, min(referral_id), '{RowSource.IMPORTED}', %(job)s, key, %(user)s, %(now)s,
            %(now)s, min(day), min(clinic_id),
            jsonb_path_query_array(jsonb_agg(codes ORDER BY seq), '$[*][*]'), sum(amount),
            (array_agg(payer_id ORDER BY seq) FILTER (WHERE payer_id IS NOT NULL))[1], 1
        FROM wanted GROUP BY key
        ON CONFLICT (organization_id, row_key) WHERE NOT (row_key = '') DO NOTHING
        RETURNING id
    )
    INSERT INTO billing_made (id) SELECT id FROM made
"""
ADD_LINES = f"""
    WITH added AS (
        INSERT INTO billing_chargeline (
            organization_id, visit_id, row_key, row_fingerprint, service_date, clinic_id, procedure_codes,
            billed_amount, payer_id, created_at, updated_at
        )
        SELECT %(organization)s, visit.id, p.key, p.fingerprint, p.day, p.clinic_id, p.codes, p.amount,
            p.payer_id, %(now)s, %(now)s
        FROM billing_plan p
        JOIN billing_visit visit
            ON visit.organization_id = %(organization)s AND visit.row_key = p.visit_key
            AND NOT (visit.row_key = '')
        WHERE p.plan = '{Plan.NEW}'
        ORDER BY p.seq
        ON CONFLICT (organization_id, row_key) DO NOTHING
        RETURNING visit_id
    ), joined AS (
        -- A visit made just now holds its lines' sums already; one that was there needs them again.
        INSERT INTO billing_touched (id)
        SELECT visit_id FROM added WHERE visit_id NOT IN (SELECT id FROM billing_made)
    )
    SELECT count(*) FROM added
"""
MOVE_LINES = f"""
    WITH moved AS (
        UPDATE billing_chargeline line SET
            visit_id = visit.id, row_fingerprint = p.fingerprint, service_date = p.day,
            clinic_id = p.moved_clinic_id, procedure_codes = p.codes, billed_amount = p.amount,
            payer_id = p.payer_id, updated_at = %(now)s
        FROM billing_plan p
        JOIN billing_visit visit
            ON visit.organization_id = %(organization)s AND visit.row_key = p.moved_key
            AND NOT (visit.row_key = '')
        WHERE p.plan = '{Plan.CHANGED}' AND line.id = p.known_id
        RETURNING p.known_visit_id AS left_visit, line.visit_id AS joined_visit
    )
    INSERT INTO billing_touched (id)
    SELECT left_visit FROM moved UNION ALL SELECT joined_visit FROM moved
"""
RECOMPUTE_VISITS = """
    UPDATE billing_visit visit SET
        procedure_codes = lines.codes, billed_amount = lines.billed, payer_id = lines.payer_id,
        import_run_id = %(job)s, updated_at = %(now)s
    FROM (
        SELECT line.visit_id,
            jsonb_path_query_array(jsonb_agg(line.procedure_codes ORDER BY line.id), '$[*][*]') AS codes,
            sum(line.billed_amount) AS billed,
            (array_agg(line.payer_id ORDER BY line.id) FILTER (WHERE line.payer_id IS NOT NULL))[1]
                AS payer_id
        FROM billing_chargeline line
        WHERE line.visit_id IN (SELECT id FROM billing_touched)
        GROUP BY line.visit_id
    ) lines
    WHERE visit.id = lines.visit_id
"""
REMOVE_EMPTIED_VISITS = f"""
    DELETE FROM billing_visit visit
    WHERE visit.id IN (SELECT id FROM billing_touched) AND visit.source = '{RowSource.IMPORTED}'
        AND NOT EXISTS (SELECT 1 FROM billing_chargeline line WHERE line.visit_id = visit.id)
"""
ADD_PAYMENTS = f"""
    INSERT INTO billing_payment (
        organization_id, referral_id, source, import_run_id, row_key, row_fingerprint, created_by_id,
        created_at, updated_at, paid_on, amount, kind, payer_id, reference
    )
    SELECT %(organization)s, p.referral_id, '{RowSource.IMPORTED}', %(job)s, p.key, p.fingerprint, %(user)s,
        %(now)s, %(now)s, p.day, p.amount, p.kind, p.payer_id, left(p.reference, 100)
    FROM billing_plan p WHERE p.plan = '{Plan.NEW}'
    ORDER BY p.seq
    ON CONFLICT (organization_id, row_key) WHERE NOT (row_key = '') DO NOTHING
"""
UPDATE_PAYMENTS = f"""
    UPDATE billing_payment payment SET
        paid_on = p.day, amount = p.amount, kind = p.kind, reference = left(p.reference, 100),
        payer_id = p.payer_id, row_fingerprint = p.fingerprint, import_run_id = %(job)s, updated_at = %(now)s
    FROM billing_plan p
    WHERE p.plan = '{Plan.CHANGED}' AND payment.id = p.known_id
"""
LIST_FOR_REVIEW = f"""
    INSERT INTO billing_reviewrow (
        organization_id, import_run_id, kind, line_number, row_key, "values", reason, candidate_ids, status
    )
    SELECT %(organization)s, %(job)s, %(kind)s, p.line, p.key, p.review, left(p.reason, 200), p.candidate_ids,
        '{ReviewStatus.PENDING}'
    FROM billing_plan p WHERE p.plan = '{Plan.UNMATCHED}'
    ORDER BY p.seq
    ON CONFLICT (organization_id, kind, row_key) DO NOTHING
"""
RESOLVE_REVIEWS = f"""
    UPDATE billing_reviewrow review SET status = '{ReviewStatus.RESOLVED}', resolved_at = %(now)s
    FROM billing_plan p
    WHERE p.plan = '{Plan.NEW}' AND review.id = p.review_id
        AND review.status = '{ReviewStatus.PENDING}'
"""
TOUCHED_REFERRALS = f"""
    CREATE TEMPORARY TABLE billing_referrals AS
    SELECT referral_id AS id FROM billing_plan WHERE plan = '{Plan.NEW}'
    UNION SELECT known_referral_id FROM billing_plan WHERE plan = '{Plan.CHANGED}'
"""
LOCK_REFERRALS = """
    SELECT count(*) FROM (
        SELECT id FROM referrals_referral WHERE id IN (SELECT id FROM billing_referrals)
        ORDER BY id FOR UPDATE
    ) locked
"""


class PostgresApplier:
    """Stages rows in a temporary table with COPY, then plans and writes them in SQL (module docstring)."""

    def __init__(self, *, job: BillingImport, result: ImportResult) -> None:
        self.job = job
        self.payment = job.kind == ImportKind.PAYMENTS
        self.result = result
        self.staged = 0
        self.buffer = io.StringIO()
        # Only None is left unquoted, which COPY's CSV format reads as NULL; "" stays an empty string.
        self.writer = csv.writer(self.buffer, quoting=csv.QUOTE_NOTNULL)
        self.parameters: dict[str, Any] = {
            "organization": job.organization_id,
            "job": job.pk,
            "user": job.created_by_id,
            "kind": job.kind,
            "row_kind": "payment" if self.payment else "visit",
        }

    def __enter__(self) -> "PostgresApplier":
        with connection.cursor() as cursor:
            self._drop(cursor)
            cursor.execute(CREATE_STAGED)
        return self

    def __exit__(self, *exc_info: object) -> None:
        # After a database error inside a transaction the connection takes no statement until it rolls
        # back; the tables were made in that transaction and go with it.
        if not connection.needs_rollback:
            with connection.cursor() as cursor:
                self._drop(cursor)

    @staticmethod
    def _drop(cursor: CursorWrapper) -> None:
        cursor.execute(f"DROP TABLE IF EXISTS {', '.join(TEMPORARY_TABLES)}")

    def stage(self, row: ImportedRow) -> None:
        self.writer.writerow(
            (
                self.staged,
                row.line,
                row.ident,
                row.fingerprint,
                row.day,
                row.amount,
                json.dumps(row.codes) if row.codes else "[]",
                row.kind,
                row.reference,
                row.payer_id,
                row.file_clinic_id,
                row.clinic_id,
                row.referral_id,
                row.referral_number,
                row.matched_by,
                row.reason,
                json.dumps(row.candidate_ids) if row.candidate_ids else "[]",
                None if row.referral_id is not None else json.dumps(row.review_values()),
            )
        )
        self.staged += 1
        if self.staged % STAGE_ROWS == 0:
            self._copy()

    def _copy(self) -> None:
        self.buffer.seek(0)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(
                f"COPY billing_staged ({', '.join(STAGED_COLUMNS)}) FROM STDIN WITH (FORMAT csv)", self.buffer
            )
        self.buffer.seek(0)
        self.buffer.truncate()

    def apply(self, *, on_applied: Callable[[int], None] | None = None) -> None:
        """Plans and writes the staged rows, then the referrals' totals; the caller holds a transaction."""
        self._copy()
        parameters = {**self.parameters, "now": timezone.now()}
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
            cursor.execute("ANALYZE billing_staged")
            cursor.execute(self._plan_sql(), parameters)
            cursor.execute("ANALYZE billing_plan")
            cursor.execute(TOUCHED_REFERRALS)
            cursor.execute(LOCK_REFERRALS)
            if self.payment:
                written = self._write_payments(cursor, parameters)
            else:
                written = self._write_visits(cursor, parameters)
            cursor.execute(LIST_FOR_REVIEW, parameters)
            cursor.execute(RESOLVE_REVIEWS, parameters)
            if on_applied is not None:
                on_applied(self.staged)
            self._tally(cursor, written=written)
        referral_totals_recompute_where(
            referrals=Referral.objects.filter(pk__in=RawSQL("SELECT id FROM billing_referrals", ()))
        )

    def _plan_sql(self) -> str:
        if self.payment:
            known_columns, known_join = PAYMENT_KNOWN_COLUMNS, PAYMENT_KNOWN_JOIN
        else:
            moved_key = visit_key_sql(
                "visit.referral_id", "k.day", "COALESCE(k.file_clinic_id, known.clinic_id)"
            )
            known_columns = VISIT_KNOWN_COLUMNS.format(moved_key=moved_key)
            known_join = VISIT_KNOWN_JOIN
        return PLAN.format(
            visit_key=visit_key_sql("n.referral_id", "n.day", "n.clinic_id"),
            known_columns=known_columns,
            known_join=known_join,
            plan=PLAN_CASE,
        )

    def _write_visits(self, cursor: CursorWrapper, parameters: dict[str, Any]) -> int:
        cursor.execute("CREATE TEMPORARY TABLE billing_made (id bigint)")
        cursor.execute("CREATE TEMPORARY TABLE billing_touched (id bigint)")
        cursor.execute(MAKE_VISITS, parameters)
        self.result.visits_created += cursor.rowcount
        cursor.execute(ADD_LINES, parameters)
        (added,) = cursor.fetchone()
        cursor.execute(MOVE_LINES, parameters)
        cursor.execute("SELECT EXISTS (SELECT 1 FROM billing_touched)")
        (touched,) = cursor.fetchone()
        if touched:
            cursor.execute("ANALYZE billing_touched")
            cursor.execute(RECOMPUTE_VISITS, parameters)
            cursor.execute(REMOVE_EMPTIED_VISITS)
        return added

    def _write_payments(self, cursor: CursorWrapper, parameters: dict[str, Any]) -> int:
        cursor.execute(ADD_PAYMENTS, parameters)
        added = cursor.rowcount
        cursor.execute(UPDATE_PAYMENTS, parameters)
        return added

    def _tally(self, cursor: CursorWrapper, *, written: int) -> None:
        """The counts, from the plan; and the first lines of each outcome, with their reasons."""
        cursor.execute("SELECT plan, count(*) FROM billing_plan GROUP BY plan")
        counts = {Plan(plan): number for plan, number in cursor.fetchall()}
        for plan, number in counts.items():
            self.result.count(plan, number)
        # A new row another import wrote in the meantime was left as it was.
        self.result.created = self.result.matched = written
        self.result.unchanged += counts.get(Plan.NEW, 0) - written
        for outcome in dict.fromkeys(OUTCOME.values()):
            plans = [plan for plan, its_outcome in OUTCOME.items() if its_outcome == outcome]
            cursor.execute(
                "SELECT line, plan, referral_number, matched_by, reason FROM billing_plan "
                "WHERE plan = ANY(%s) ORDER BY seq LIMIT %s",
                [plans, OUTCOMES_KEPT],
            )
            for line, plan, number, matched_by, reason in cursor.fetchall():
                self.result.note(
                    line,
                    outcome,
                    describe(Plan(plan), referral_number=number, matched_by=matched_by, reason=reason),
                )
