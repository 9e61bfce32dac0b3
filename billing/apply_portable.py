"""Applying an import's checked rows with the ORM, batch by batch: every database's path but PostgreSQL's.

PostgreSQL takes billing/apply_postgres.py, which does the same in a few
set-based statements; a test imports the same files both ways and compares
every row they write. For each batch of rows, in the caller's transaction:

1. Look up what the organization already has under the rows' keys: a
   charge line (visits) or a payment, a removal by hand, a review row. Each
   row's `Plan` follows (`import_rows.plan_of`).
2. Lock the referrals whose totals change (in id order, each once per import).
3. Visits: each new line goes to the visit of its referral, day and clinic
   (`visit_key`), made when there is none; a line the EMR changed is updated,
   and moves to another visit if its day or clinic changed. The visits whose
   lines changed take their codes, billed amount and payer from their lines
   again (`visits_recompute`); an imported visit left without lines goes.
   Payments: a new one is created, a changed one updated.
4. Unmatched rows are listed for review once; a pending review row a rerun
   could match is resolved.

Rows wait in a temporary file between reading and applying; identical lines
are numbered as they are staged, from a count kept per line identity.
"""

import hashlib
import json
import tempfile
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from datetime import date
from decimal import Decimal
from typing import IO, Any

from django.utils import timezone

from .import_rows import ImportedRow, ImportResult, Plan, plan_of
from .models import (
    BillingCorrection,
    BillingImport,
    ChargeLine,
    CorrectionAction,
    ImportKind,
    Payment,
    ReviewRow,
    ReviewStatus,
    RowSource,
    Visit,
    visit_key,
)
from .services import referral_totals_recompute, referrals_lock

BATCH = 5000
# What the EMR may change of a payment it exported before.
PAYMENT_FIELDS = ["paid_on", "amount", "kind", "reference", "payer"]
FIELDS = ImportedRow.__slots__


def _identity(ident: str) -> int:
    """64 bits of a row's identity: a million lines' counts stay small (a hash ident is hex already)."""
    if ident.startswith("h:"):
        return int(ident[2:18], 16)
    return int.from_bytes(hashlib.blake2b(ident.encode(), digest_size=8).digest())


def _dumps(row: ImportedRow) -> str:
    values = [getattr(row, name) for name in FIELDS]
    values[FIELDS.index("day")] = row.day.isoformat()
    values[FIELDS.index("amount")] = str(row.amount)
    return json.dumps(values)


def _loads(text: str) -> ImportedRow:
    row = ImportedRow(**dict(zip(FIELDS, json.loads(text), strict=True)))
    row.day, row.amount = date.fromisoformat(row.day), Decimal(row.amount)  # type: ignore[arg-type]
    return row


def visits_recompute(visit_ids: Collection[int], *, import_run_id: int) -> set[int]:
    """Gives each imported visit its lines' codes (in order), billed amount (their sum) and payer (the
    first line's that names one), and names the import that changed them; a visit left without lines
    is removed. Returns the referrals touched.
    """
    totals: dict[int, tuple[list[dict[str, Any]], Decimal, int | None]] = {}
    lines = (
        ChargeLine.objects.filter(visit_id__in=visit_ids)
        .order_by("visit_id", "pk")
        .values_list("visit_id", "procedure_codes", "billed_amount", "payer_id")
    )
    for visit_id, codes, billed, payer_id in lines:
        known_codes, known_billed, known_payer = totals.get(visit_id, ([], Decimal(0), None))
        totals[visit_id] = (known_codes + codes, known_billed + billed, known_payer or payer_id)
    visits = list(Visit.objects.filter(pk__in=visit_ids).only("pk", "referral_id", "source"))
    now = timezone.now()
    for visit in visits:
        if visit.pk in totals:
            visit.procedure_codes, visit.billed_amount, visit.payer_id = totals[visit.pk]
            visit.import_run_id, visit.updated_at = import_run_id, now
    Visit.objects.bulk_update(
        [visit for visit in visits if visit.pk in totals],
        ["procedure_codes", "billed_amount", "payer", "import_run", "updated_at"],
        batch_size=1000,
    )
    Visit.objects.filter(
        pk__in=[visit.pk for visit in visits if visit.pk not in totals], source=RowSource.IMPORTED
    ).delete()
    return {visit.referral_id for visit in visits}


class PortableApplier:
    """Stages rows in a temporary file, then writes them with the ORM in the caller's transaction."""

    def __init__(self, *, job: BillingImport, result: ImportResult) -> None:
        self.job = job
        self.organization_id = job.organization_id
        self.payment = job.kind == ImportKind.PAYMENTS
        self.result = result
        self.touched: set[int] = set()  # referrals whose totals change
        self.locked: set[int] = set()
        self.occurrences: Counter[int] = Counter()
        self.rows: IO[str] | None = None  # made by the first row staged

    def __enter__(self) -> "PortableApplier":
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.rows is not None:
            self.rows.close()

    def stage(self, row: ImportedRow) -> None:
        if self.rows is None:
            self.rows = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (closed by __exit__)
        identity = _identity(row.ident)
        self.occurrences[identity] += 1
        row.number(self.occurrences[identity])
        self.rows.write(_dumps(row) + "\n")

    def _batches(self) -> Iterator[list[ImportedRow]]:
        if self.rows is None:
            return
        self.rows.seek(0)
        batch: list[ImportedRow] = []
        for text in self.rows:
            batch.append(_loads(text))
            if len(batch) == BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def apply(self, *, on_applied: Callable[[int], None] | None = None) -> None:
        """Writes every staged row, then the touched referrals' totals; the caller holds a transaction."""
        applied = 0
        for batch in self._batches():
            self.apply_rows(batch)
            applied += len(batch)
            if on_applied is not None:
                on_applied(applied)
        referral_totals_recompute(referral_ids=self.touched)

    def apply_rows(self, batch: list[ImportedRow]) -> None:
        """Plans and writes one batch of keyed rows (`ImportedRow.key` set)."""
        keys = [row.key for row in batch]
        reviews = {
            key: (pk, status)
            for key, pk, status in ReviewRow.objects.filter(
                organization_id=self.organization_id, kind=self.job.kind, row_key__in=keys
            ).values_list("row_key", "pk", "status")
        }
        planned = self._payments(batch, reviews) if self.payment else self._visits(batch, reviews)
        new_reviews = [self._review(row) for row, plan in planned if plan == Plan.UNMATCHED]
        ReviewRow.objects.bulk_create(new_reviews, batch_size=BATCH)
        resolved = [reviews[row.key][0] for row, plan in planned if plan == Plan.NEW and row.key in reviews]
        ReviewRow.objects.filter(pk__in=resolved, status=ReviewStatus.PENDING).update(
            status=ReviewStatus.RESOLVED, resolved_at=timezone.now()
        )

    def _removed(self, keys: Collection[str]) -> set[str]:
        return set(
            BillingCorrection.objects.filter(
                organization_id=self.organization_id,
                row_kind="payment" if self.payment else "visit",
                action=CorrectionAction.REMOVED,
                row_key__in=keys,
            ).values_list("row_key", flat=True)
        )

    def _plan(
        self,
        batch: list[ImportedRow],
        *,
        fingerprints: dict[str, str],
        removed: Callable[[ImportedRow], bool],
        reviews: dict[str, tuple[int, str]],
    ) -> list[tuple[ImportedRow, Plan]]:
        planned = []
        for row in batch:
            review = reviews.get(row.key)
            plan = plan_of(
                row,
                known_fingerprint=fingerprints.get(row.key),
                removed=removed(row),
                review_status=review[1] if review else None,
            )
            self.result.tally(row, plan)
            planned.append((row, plan))
        return planned

    def _lock(self, referral_ids: set[int]) -> None:
        # Each referral once: it stays locked until the import's transaction ends.
        referrals_lock(referral_ids - self.locked)
        self.locked |= referral_ids
        self.touched |= referral_ids

    def _visits(
        self, batch: list[ImportedRow], reviews: dict[str, tuple[int, str]]
    ) -> list[tuple[ImportedRow, Plan]]:
        known = {
            key: (pk, fingerprint, visit_id, referral_id, clinic_id)
            for key, pk, fingerprint, visit_id, referral_id, clinic_id in ChargeLine.objects.filter(
                organization_id=self.organization_id, row_key__in=[row.key for row in batch]
            ).values_list("row_key", "pk", "row_fingerprint", "visit_id", "visit__referral_id", "clinic_id")
        }
        day_keys = {row.key: key for row in batch if (key := row.visit_key())}
        removed = self._removed([*(row.key for row in batch), *day_keys.values()])
        planned = self._plan(
            batch,
            fingerprints={key: values[1] for key, values in known.items()},
            removed=lambda row: row.key in removed or day_keys.get(row.key) in removed,
            reviews=reviews,
        )
        # The visit each new or changed line belongs to: {visit key: (referral, day, clinic)}.
        wanted: dict[str, tuple[int, date, int]] = {}
        new: list[tuple[ImportedRow, str]] = []
        changed: list[tuple[ImportedRow, tuple[int, str, int, int, int], str]] = []
        for row, plan in planned:
            if plan == Plan.NEW and row.referral_id is not None and row.clinic_id is not None:
                key = day_keys[row.key]
                wanted.setdefault(key, (row.referral_id, row.day, row.clinic_id))
                new.append((row, key))
            elif plan == Plan.CHANGED:
                line = known[row.key]
                clinic_id = row.file_clinic_id or line[4]
                key = visit_key(line[3], row.day, clinic_id)
                wanted.setdefault(key, (line[3], row.day, clinic_id))
                changed.append((row, line, key))
        if not wanted:
            return planned
        self._lock({referral_id for referral_id, _, _ in wanted.values()})
        visit_ids = dict(
            Visit.objects.filter(organization_id=self.organization_id, row_key__in=wanted).values_list(
                "row_key", "pk"
            )
        )
        # A visit made now takes its new lines' codes, sum and payer at once; one that was there, or
        # that a changed line joins, takes them from its lines again (`visits_recompute`).
        sums: dict[str, tuple[list[dict[str, Any]], Decimal, int | None]] = {}
        for row, key in new:
            codes, billed, payer_id = sums.get(key, ([], Decimal(0), None))
            sums[key] = (codes + row.codes, billed + row.amount, payer_id or row.payer_id)
        made = [
            Visit(
                organization_id=self.organization_id,
                referral_id=referral_id,
                source=RowSource.IMPORTED,
                import_run_id=self.job.pk,
                row_key=key,
                created_by_id=self.job.created_by_id,
                service_date=day,
                clinic_id=clinic_id,
                procedure_codes=sums[key][0] if key in sums else [],
                billed_amount=sums[key][1] if key in sums else Decimal(0),
                payer_id=sums[key][2] if key in sums else None,
            )
            for key, (referral_id, day, clinic_id) in wanted.items()
            if key not in visit_ids
        ]
        touched_visits = {visit_ids[key] for _, key in new if key in visit_ids}
        Visit.objects.bulk_create(made, batch_size=BATCH)
        self.result.visits_created += len(made)
        visit_ids.update((visit.row_key, visit.pk) for visit in made)
        ChargeLine.objects.bulk_create(
            [
                ChargeLine(
                    organization_id=self.organization_id,
                    visit_id=visit_ids[key],
                    row_key=row.key,
                    row_fingerprint=row.fingerprint,
                    service_date=row.day,
                    clinic_id=wanted[key][2],
                    procedure_codes=row.codes,
                    billed_amount=row.amount,
                    payer_id=row.payer_id,
                )
                for row, key in new
            ],
            batch_size=BATCH,
        )
        now = timezone.now()
        updated = []
        for row, (pk, _, old_visit_id, _, clinic_id), key in changed:
            updated.append(
                ChargeLine(
                    pk=pk,
                    visit_id=visit_ids[key],
                    row_fingerprint=row.fingerprint,
                    service_date=row.day,
                    clinic_id=row.file_clinic_id or clinic_id,
                    procedure_codes=row.codes,
                    billed_amount=row.amount,
                    payer_id=row.payer_id,
                    updated_at=now,
                )
            )
            touched_visits |= {old_visit_id, visit_ids[key]}
        ChargeLine.objects.bulk_update(
            updated,
            [
                "visit",
                "row_fingerprint",
                "service_date",
                "clinic",
                "procedure_codes",
                "billed_amount",
                "payer",
                "updated_at",
            ],
            batch_size=1000,
        )
        self.touched |= visits_recompute(touched_visits, import_run_id=self.job.pk)
        return planned

    def _payments(
        self, batch: list[ImportedRow], reviews: dict[str, tuple[int, str]]
    ) -> list[tuple[ImportedRow, Plan]]:
        keys = [row.key for row in batch]
        known = {
            key: (pk, fingerprint, referral_id)
            # `exclude(row_key="")` repeats the unique index's condition, so PostgreSQL uses it.
            for key, pk, fingerprint, referral_id in Payment.objects.filter(
                organization_id=self.organization_id, row_key__in=keys
            )
            .exclude(row_key="")
            .values_list("row_key", "pk", "row_fingerprint", "referral_id")
        }
        removed = self._removed(keys)
        planned = self._plan(
            batch,
            fingerprints={key: values[1] for key, values in known.items()},
            removed=lambda row: row.key in removed,
            reviews=reviews,
        )
        new = [
            (row, row.referral_id)
            for row, plan in planned
            if plan == Plan.NEW and row.referral_id is not None
        ]
        changed = [(row, known[row.key]) for row, plan in planned if plan == Plan.CHANGED]
        self._lock(
            {referral_id for _, referral_id in new} | {referral_id for _, (_, _, referral_id) in changed}
        )
        Payment.objects.bulk_create(
            [self.payment_of(row, referral_id=referral_id) for row, referral_id in new],
            batch_size=BATCH,
        )
        now = timezone.now()
        updated = []
        for row, (pk, _, referral_id) in changed:
            payment = self.payment_of(row, referral_id=referral_id)
            payment.pk, payment.updated_at = pk, now
            updated.append(payment)
        Payment.objects.bulk_update(
            updated,
            [*PAYMENT_FIELDS, "row_fingerprint", "import_run", "updated_at"],
            batch_size=1000,
        )
        return planned

    def payment_of(self, row: ImportedRow, *, referral_id: int) -> Payment:
        return Payment(
            organization_id=self.organization_id,
            referral_id=referral_id,
            source=RowSource.IMPORTED,
            import_run_id=self.job.pk,
            row_key=row.key,
            row_fingerprint=row.fingerprint,
            created_by_id=self.job.created_by_id,
            paid_on=row.day,
            amount=row.amount,
            kind=row.kind,
            payer_id=row.payer_id,
            reference=row.reference[:100],
        )

    def _review(self, row: ImportedRow) -> ReviewRow:
        return ReviewRow(
            organization_id=self.organization_id,
            import_run_id=self.job.pk,
            kind=self.job.kind,
            line_number=row.line,
            row_key=row.key,
            values=row.review_values(),
            reason=row.reason[:200],
            candidate_ids=row.candidate_ids,
        )
