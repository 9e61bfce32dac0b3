"""Importing a CSV report of visits or payments, in two phases, as the NPPES import does.

1. **Read and check** (`_read`): every line of the file is read, skipped
   (blank, page header, totals) or parsed with the mapping; a line that
   cannot be read (a date or an amount that is not one, a required cell
   empty) is refused with its line number and reason. Rows are matched to
   referrals (billing/matching.py) while reading and written to a temporary
   file. If any line is refused, the import stops here and nothing changes.
2. **Apply** (`_apply`), in one transaction, in batches: each row's stable
   key (the EMR's line id, else a hash of the columns that identify it,
   billing/rowkeys) is looked up. A new matched row is created; a row whose
   key is known is left as it is when the file says the same as last time
   (so a rerun, or last month's file overlapping this month's, counts
   nothing twice), and updated when the EMR changed it; a row removed by
   hand stays removed. Unmatched and ambiguous rows go to the review list
   (once per key). Account numbers of rows matched by name are remembered on
   their referrals. The touched referrals' totals are recomputed at the end.
"""

import csv
import hashlib
import io
import json
import logging
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from clinics.clock import organization_today
from clinics.models import Clinic, Membership, Organization, Payer
from clinics.roles import ADMINS, acts_as
from physicians.models import ImportStatus
from referrals.models import Referral
from referrals.services import referral_account_numbers_remember

from .codes import parse_procedure_codes
from .mapping import REQUIRED, guess_mapping, mapping_problems
from .matching import Matcher, split_patient_name
from .models import (
    BillingCorrection,
    BillingImport,
    ColumnMapping,
    CorrectionAction,
    ImportKind,
    Payment,
    PaymentKind,
    ReviewRow,
    ReviewStatus,
    RowSource,
    Visit,
)
from .reading import (
    ENCODINGS,
    Report,
    ReportError,
    detect_encoding,
    fold,
    header_signature,
    is_skipped,
    normalize_heading,
    open_report,
    parse_amount,
    parse_date,
)
from .services import billing_rows_create_bulk, referral_totals_recompute, referrals_lock

logger = logging.getLogger(__name__)

BATCH = 5000
PROGRESS_EVERY = 5000
OUTCOMES_KEPT = 200  # lines listed per outcome; every line is counted
PREVIEW_ROWS = 8
MAX_REFUSED_BEFORE_STOPPING = 1000


@dataclass
class ImportedRow:
    """One line of a report as read: what it says, which referral it matched, and its key."""

    line: int
    key: str
    fingerprint: str
    day: str  # ISO date: the date of service, or the payment's date
    amount: str
    account_number: str = ""
    patient: str = ""  # as the file writes it, for the review list
    birth_date: str = ""
    codes: list[dict[str, Any]] = field(default_factory=list)
    payer: str = ""
    clinic: str = ""
    kind: str = ""
    reference: str = ""
    referral_id: int | None = None
    clinic_id: int | None = None
    matched_by: str = ""
    reason: str = ""
    candidate_ids: list[int] = field(default_factory=list)


@dataclass
class ImportResult:
    rows_read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    matched: int = 0
    unmatched: int = 0
    refused: int = 0
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    kept: Counter = field(default_factory=Counter)

    def note(self, line: int, outcome: str, reason: str = "") -> None:
        if self.kept[outcome] < OUTCOMES_KEPT:
            self.kept[outcome] += 1
            self.outcomes.append({"line": line, "outcome": outcome, "reason": reason})


class ImportRefused(ValueError):
    """The file has lines that cannot be read: nothing was imported. `result` lists them."""

    def __init__(self, message: str, result: ImportResult) -> None:
        super().__init__(message)
        self.result = result


# ---- Reading ----------------------------------------------------------------


PAYMENT_KIND_WORDS = (
    (PaymentKind.ADJUSTMENT, ("adj", "write", "contractual", "allowance", "w/o")),
    (PaymentKind.PATIENT, ("patient", "pt ", "copay", "co-pay", "self", "coins", "deduct", "cash", "card")),
)


def payment_kind(text: str) -> str:
    """“Ins Pmt” → payer, “Patient Copay” → patient, “Contractual Adj” → adjustment; blank → payer."""
    words = f"{fold(text)} "
    for kind, markers in PAYMENT_KIND_WORDS:
        if any(marker in words for marker in markers):
            return kind
    return PaymentKind.PAYER


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()[:32]


class RowReader:
    """Turns a report's data lines into ImportedRows, with the mapping, and matches them."""

    def __init__(
        self, *, kind: str, header: list[str], mapping: dict[str, str], matcher: Matcher, today: date
    ):
        self.kind = kind
        self.payment = kind == ImportKind.PAYMENTS
        self.columns = {name: header.index(heading) for name, heading in mapping.items()}
        self.header_key = [normalize_heading(cell) for cell in header]
        self.matcher = matcher
        self.today = today
        self.occurrences: Counter = Counter()
        self.remembered: dict[int, str] = {}

    def cell(self, cells: list[str], name: str) -> str:
        index = self.columns.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    def read(self, number: int, cells: list[str]) -> ImportedRow:
        """The row on line `number`; raises ValueError with the reason a line cannot be read."""
        for name in REQUIRED[ImportKind(self.kind)]:
            if not self.cell(cells, name):
                raise ValueError(f"the {name.replace('_', ' ')} is empty")
        day = parse_date(self.cell(cells, "paid_on" if self.payment else "service_date"), today=self.today)
        if day > self.today:
            raise ValueError(f"{day:%m/%d/%Y} is in the future")
        amount_text = self.cell(cells, "amount" if self.payment else "billed_amount")
        amount = parse_amount(amount_text) if amount_text else Decimal("0.00")
        if not self.payment and amount < 0:
            raise ValueError("a visit's billed amount cannot be negative")
        born_text = self.cell(cells, "birth_date")
        born = parse_date(born_text, today=self.today) if born_text else None
        last, first = self.cell(cells, "last_name"), self.cell(cells, "first_name")
        if not last and self.cell(cells, "patient_name"):
            last, first = split_patient_name(self.cell(cells, "patient_name"))
        codes = []
        if not self.payment:
            codes = parse_procedure_codes(self.cell(cells, "procedure_codes"))
            units = self.cell(cells, "units")
            if units and len(codes) == 1 and codes[0]["units"] is None:
                codes[0]["units"] = int(parse_amount(units))
        account = self.cell(cells, "account_number")
        payer, reference = self.cell(cells, "payer"), self.cell(cells, "reference")
        kind = payment_kind(self.cell(cells, "kind")) if self.payment else ""
        code_text = ",".join(f"{c['code']}x{c['units'] or ''}" for c in codes)
        patient = (account, *map(fold, (last, first)), born)
        # Identity: what makes it the same visit or payment in the next export, whatever was corrected since.
        identity = (day, code_text) if not self.payment else (day, amount, fold(reference), kind)
        line_id = self.cell(cells, "line_id")
        if line_id:
            key = f"id:{line_id[:76]}"
        else:
            digest = _digest(self.kind, *patient, *identity)
            # Identical lines in one file are distinct visits or payments: the second is “#2”.
            # Counted by the digest's first 64 bits, to keep a million rows' counts small.
            occurrence = int(digest[:16], 16)
            self.occurrences[occurrence] += 1
            seen = self.occurrences[occurrence]
            key = f"h:{digest}" + (f"#{seen}" if seen > 1 else "")
        fingerprint = _digest(
            *patient, day, amount, code_text, fold(payer), fold(reference), kind, self.cell(cells, "clinic")
        )
        matched = self.matcher.match(
            account_number=account,
            last_name=last,
            first_name=first,
            birth_date=born,
            day=parse_date(self.cell(cells, "service_date"), today=self.today)
            if self.payment and self.cell(cells, "service_date")
            else day,
            payment=self.payment,
        )
        remember = matched.referral_id is not None and matched.by == "name" and account
        if remember and self.matcher.remember(account, matched.referral_id):  # type: ignore[arg-type]
            self.remembered[matched.referral_id] = account  # type: ignore[index]
        return ImportedRow(
            line=number,
            key=key,
            fingerprint=fingerprint,
            day=day.isoformat(),
            amount=str(amount),
            account_number=account,
            patient=", ".join(part for part in (last, first) if part),
            birth_date=born.isoformat() if born else "",
            codes=codes,
            payer=payer,
            clinic=self.cell(cells, "clinic"),
            kind=kind,
            reference=reference,
            referral_id=matched.referral_id,
            clinic_id=matched.clinic_id,
            matched_by=matched.by,
            reason=matched.reason,
            candidate_ids=matched.candidate_ids,
        )


def _read(
    report: Report,
    reader: RowReader,
    *,
    out: IO[str],
    result: ImportResult,
    on_progress: Callable[[int, int], None] | None,
) -> None:
    """Reads every data line into `out` (JSON lines); refused lines are counted and listed in `result`."""
    try:
        for line in report.lines:
            if is_skipped(line.cells, reader.header_key):
                continue
            result.rows_read += 1
            try:
                row = reader.read(line.number, line.cells)
            except (ValueError, ValidationError) as error:
                reason = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
                result.refused += 1
                result.note(line.number, "refused", reason[:1].upper() + reason[1:])
                if result.refused >= MAX_REFUSED_BEFORE_STOPPING:
                    break
                continue
            out.write(json.dumps(vars(row)) + "\n")
            if on_progress is not None and result.rows_read % PROGRESS_EVERY == 0:
                on_progress(report.bytes_read, result.rows_read)
    except UnicodeDecodeError as error:
        raise ReportError("The file changes encoding part way through; save it again as UTF-8.") from error
    except csv.Error as error:
        raise ReportError(f"The file is not a well-formed CSV report: {error}.") from error


# ---- Applying ---------------------------------------------------------------


def _copy_value(value: object) -> object:
    """A value as COPY's CSV format reads it: JSON for lists, ISO 8601 for dates and times."""
    if isinstance(value, list | dict):
        return json.dumps(value)
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    return value


def _batches(rows: IO[str]) -> Iterator[list[ImportedRow]]:
    batch: list[ImportedRow] = []
    for text in rows:
        batch.append(ImportedRow(**json.loads(text)))
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


class _Applier:
    """Writes checked rows, batch by batch, in the caller's transaction."""

    def __init__(self, *, job: BillingImport, result: ImportResult) -> None:
        self.job = job
        self.organization_id = job.organization_id
        self.payment = job.kind == ImportKind.PAYMENTS
        self.model: type[Visit] | type[Payment] = Payment if self.payment else Visit
        self.result = result
        self.touched: set[int] = set()
        self.locked: set[int] = set()
        payers = Payer.objects.filter(organization_id=self.organization_id).values_list("name", "pk")
        self.payers = {fold(name): pk for name, pk in payers}
        clinics = Clinic.objects.filter(organization_id=self.organization_id).values_list("name", "pk")
        self.clinics = {fold(name): pk for name, pk in clinics}

    def build(self, row: ImportedRow, referral_id: int, clinic_id: int) -> Visit | Payment:
        """The row as a Visit or Payment of `referral_id`; a visit at the file's clinic, else `clinic_id`."""
        return self.model(**self.values(row, referral_id, clinic_id))

    def values(self, row: ImportedRow, referral_id: int, clinic_id: int) -> dict[str, Any]:
        """The row's columns, by attribute name, but for the id and the times the database sets."""
        common: dict[str, Any] = {
            "organization_id": self.organization_id,
            "referral_id": referral_id,
            "source": RowSource.IMPORTED,
            "import_run_id": self.job.pk,
            "row_key": row.key,
            "row_fingerprint": row.fingerprint,
            "payer_id": self.payers.get(fold(row.payer)),
            "created_by_id": self.job.created_by_id,
        }
        if self.payment:
            return {
                **common,
                "paid_on": date.fromisoformat(row.day),
                "amount": Decimal(row.amount),
                "kind": row.kind,
                "reference": row.reference[:100],
            }
        return {
            **common,
            "service_date": date.fromisoformat(row.day),
            "clinic_id": self.clinics.get(fold(row.clinic)) or clinic_id,
            "therapist_id": None,
            "procedure_codes": row.codes,
            "billed_amount": Decimal(row.amount),
            "visit_count": 1,
        }

    def insert(self, rows: list[dict[str, Any]]) -> None:
        """Inserts new rows: with COPY on PostgreSQL, where building model instances took most of the time.

        The values are the ones `build` gives a model instance, so both paths
        write the same rows; elsewhere the instances are bulk-created.
        """
        if not rows:
            return
        if connection.vendor != "postgresql":
            instances: list[Any] = [self.model(**values) for values in rows]
            self.model.objects.bulk_create(instances, batch_size=BATCH)
            return
        now = timezone.now()
        columns = [*rows[0], "created_at", "updated_at"]
        buffer = io.StringIO()
        # Only None is left unquoted, which COPY's CSV format reads as NULL; "" stays an empty string.
        writer = csv.writer(buffer, quoting=csv.QUOTE_NOTNULL)
        for values in rows:
            writer.writerow([_copy_value(value) for value in values.values()] + [now, now])
        buffer.seek(0)
        table = connection.ops.quote_name(self.model._meta.db_table)
        column_of = {field.attname: str(field.column) for field in self.model._meta.concrete_fields}
        names = ", ".join(connection.ops.quote_name(column_of[name]) for name in columns)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)", buffer)

    def apply(self, batch: list[ImportedRow]) -> None:
        keys = [row.key for row in batch]
        model = self.model
        # A payment has no clinic: the referral's id stands in, unused.
        clinic = "referral_id" if self.payment else "clinic_id"
        existing = {
            key: (pk, fingerprint, referral_id, clinic_id)
            # `exclude(row_key="")` repeats the unique index's condition, so PostgreSQL uses it.
            for key, pk, fingerprint, referral_id, clinic_id in model.objects.filter(
                organization_id=self.organization_id, row_key__in=keys
            )
            .exclude(row_key="")
            .values_list("row_key", "pk", "row_fingerprint", "referral_id", clinic)
        }
        removed = set(
            BillingCorrection.objects.filter(
                organization_id=self.organization_id,
                row_kind="payment" if self.payment else "visit",
                action=CorrectionAction.REMOVED,
                row_key__in=keys,
            ).values_list("row_key", flat=True)
        )
        reviews = {
            key: (pk, status)
            for key, pk, status in ReviewRow.objects.filter(
                organization_id=self.organization_id, kind=self.job.kind, row_key__in=keys
            ).values_list("row_key", "pk", "status")
        }
        seen_in_batch: set[str] = set()
        new_rows: list[dict[str, Any]] = []
        # Visits or payments, as `model` is: typed loosely, as the manager's methods take one model.
        changed: list[Any] = []
        new_reviews: list[ReviewRow] = []
        resolved_reviews: list[int] = []
        for row in batch:
            if row.key in seen_in_batch:
                self.result.unchanged += 1
                self.result.note(row.line, "unchanged", "The same line id appears earlier in this file.")
                continue
            seen_in_batch.add(row.key)
            if row.key in existing:
                pk, fingerprint, referral_id, clinic_id = existing[row.key]
                if fingerprint == row.fingerprint:
                    self.result.unchanged += 1
                    self.result.note(row.line, "unchanged", "Already imported, the same as then.")
                else:
                    updated = self.build(row, referral_id, clinic_id)
                    updated.pk, updated.updated_at = pk, timezone.now()
                    changed.append(updated)
                    self.touched.add(referral_id)
                    self.result.updated += 1
                    self.result.note(row.line, "updated", "Changed in the EMR since the last import.")
                continue
            if row.key in removed:
                self.result.unchanged += 1
                self.result.note(row.line, "unchanged", "Removed by hand after an earlier import; left out.")
                continue
            review = reviews.get(row.key)
            if row.referral_id is None:
                self.result.unmatched += 1
                if review is None:
                    new_reviews.append(self._review(row))
                    self.result.note(row.line, "unmatched", f"{row.reason} Listed for review.")
                else:
                    self.result.note(row.line, "unmatched", f"{row.reason} Already listed for review.")
                continue
            if review is not None and review[1] == ReviewStatus.DISMISSED:
                self.result.unchanged += 1
                self.result.note(row.line, "unchanged", "Dismissed on review earlier; left out.")
                continue
            if review is not None:
                resolved_reviews.append(review[0])
            assert row.clinic_id is not None  # every match names its referral's clinic
            new_rows.append(self.values(row, row.referral_id, row.clinic_id))
            self.touched.add(row.referral_id)
            self.result.matched += 1
            self.result.created += 1
            how = "account number" if row.matched_by == "account" else "name and date of birth"
            self.result.note(row.line, "created", f"Matched to referral #{row.referral_id} by {how}.")
        # Each referral once: it stays locked until the import's transaction ends.
        locking = {row["referral_id"] for row in new_rows} | {row.referral_id for row in changed}
        referrals_lock(locking - self.locked)
        self.locked |= locking
        self.insert(new_rows)
        if changed:
            fields = (
                ["paid_on", "amount", "kind", "reference"]
                if self.payment
                else ["service_date", "clinic", "procedure_codes", "billed_amount"]
            )
            model.objects.bulk_update(
                changed, [*fields, "payer", "row_fingerprint", "import_run", "updated_at"], batch_size=1000
            )
        ReviewRow.objects.bulk_create(new_reviews, batch_size=BATCH)
        if resolved_reviews:
            ReviewRow.objects.filter(pk__in=resolved_reviews).update(
                status=ReviewStatus.RESOLVED, resolved_at=timezone.now()
            )

    def _review(self, row: ImportedRow) -> ReviewRow:
        values = asdict(row)
        for name in (
            "referral_id",
            "clinic_id",
            "matched_by",
            "reason",
            "candidate_ids",
            "fingerprint",
            "key",
        ):
            values.pop(name)
        return ReviewRow(
            organization_id=self.organization_id,
            import_run_id=self.job.pk,
            kind=self.job.kind,
            line_number=row.line,
            row_key=row.key,
            values={**values, "fingerprint": row.fingerprint},
            reason=row.reason[:200],
            candidate_ids=row.candidate_ids,
        )


def billing_file_import(
    *,
    job: BillingImport,
    file: IO[bytes],
    on_progress: Callable[[int, int], None] | None = None,
    on_applied: Callable[[int], None] | None = None,
) -> ImportResult:
    """Imports `file` (binary) as `job` says (kind, encoding, mapping); all or nothing.

    Raises ReportError when the file cannot be read as a report and
    ImportRefused when some of its lines cannot be read; nothing is written
    then. The management command and the benchmark call it directly.
    """
    organization = job.organization
    encoding = job.encoding or detect_encoding(file)
    report = open_report(file, encoding=encoding)
    problems = mapping_problems(job.kind, job.mapping, report.header)
    if problems:
        raise ReportError(" ".join(problems))
    reader = RowReader(
        kind=job.kind,
        header=report.header,
        mapping=job.mapping,
        matcher=Matcher(organization=organization),
        today=organization_today(organization),
    )
    result = ImportResult()
    with tempfile.TemporaryFile("w+", encoding="utf-8") as rows:
        _read(report, reader, out=rows, result=result, on_progress=on_progress)
        if result.refused:
            raise ImportRefused(
                f"{result.refused} line{'s' if result.refused != 1 else ''} cannot be read; "
                "nothing was imported. Correct them in the file (or the mapping) and import it again.",
                result,
            )
        rows.seek(0)
        with transaction.atomic():
            applier = _Applier(job=job, result=result)
            applied = 0
            for batch in _batches(rows):
                applier.apply(batch)
                applied += len(batch)
                if on_applied is not None:
                    on_applied(applied)
            referral_account_numbers_remember(organization=organization, numbers=reader.remembered)
            referral_totals_recompute(referral_ids=applier.touched)
    return result


# ---- Jobs -------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    header: list[str]
    rows: list[list[str]]
    encoding: str


def billing_import_preview(*, job: BillingImport) -> Preview:
    """The report's header and first data lines, for the mapping page. Raises ReportError."""
    with job.file.open("rb") as file:
        encoding = job.encoding or detect_encoding(file)
        report = open_report(file, encoding=encoding)
        header_key = [normalize_heading(cell) for cell in report.header]
        rows = []
        for line in report.lines:
            if not is_skipped(line.cells, header_key):
                rows.append((line.cells + [""] * len(report.header))[: len(report.header)])
            if len(rows) == PREVIEW_ROWS:
                break
    return Preview(header=report.header, rows=rows, encoding=encoding)


@transaction.atomic
def billing_import_upload(
    *, organization: Organization, user: User, kind: str, uploaded_file: UploadedFile, encoding: str = ""
) -> BillingImport:
    """Keeps an uploaded report as an import job, and queues it when its shape has a saved mapping.

    A report of a shape seen before (same headings, same order) is imported
    with the mapping confirmed then; a new shape waits for its mapping
    (`billing_import_map`). Raises ValidationError when the file is not a report.
    """
    if kind not in ImportKind.values or (encoding and encoding not in ENCODINGS):
        raise ValidationError("Choose the kind of report and its encoding.")
    job = BillingImport(
        organization=organization,
        created_by=user,
        kind=kind,
        file=uploaded_file,
        original_name=Path(uploaded_file.name or "").name[:255],
        encoding=encoding,
        bytes_total=uploaded_file.size or 0,
    )
    job.save()
    try:
        preview = billing_import_preview(job=job)
    except ReportError as error:
        raise ValidationError(str(error)) from error
    job.encoding = preview.encoding
    job.header_signature = header_signature(preview.header)
    saved = ColumnMapping.objects.filter(
        organization=organization, kind=kind, header_signature=job.header_signature
    ).first()
    job.mapping = saved.mapping if saved else guess_mapping(kind, preview.header)
    job.mapped = saved is not None
    job.save(update_fields=["encoding", "header_signature", "mapping", "mapped"])
    if job.mapped:
        _enqueue(job)
    return job


def _enqueue(job: BillingImport) -> None:
    from .tasks import import_billing_file  # tasks.py imports this module

    transaction.on_commit(lambda: import_billing_file.delay(job.pk))


@transaction.atomic
def billing_import_map(*, job: BillingImport, user: User, mapping: dict[str, str]) -> BillingImport:
    """Confirms the mapping of a waiting import, saves it for the report's shape, and queues the import."""
    job = BillingImport.objects.select_for_update().get(pk=job.pk)
    if job.mapped or job.status != ImportStatus.QUEUED:
        raise ValidationError("This import has already started.")
    preview = billing_import_preview(job=job)
    problems = mapping_problems(job.kind, mapping, preview.header)
    if problems:
        raise ValidationError(problems)
    ColumnMapping.objects.update_or_create(
        organization_id=job.organization_id,
        kind=job.kind,
        header_signature=job.header_signature,
        defaults={"mapping": mapping, "saved_by": user, "saved_at": timezone.now()},
    )
    job.mapping, job.mapped = mapping, True
    job.save(update_fields=["mapping", "mapped"])
    _enqueue(job)
    return job


def _finish(jobs: QuerySet[BillingImport], result: ImportResult, **fields: Any) -> None:
    jobs.update(
        finished_at=timezone.now(),
        rows_read=result.rows_read,
        created_count=result.created,
        updated_count=result.updated,
        unchanged_count=result.unchanged,
        matched_count=result.matched,
        unmatched_count=result.unmatched,
        refused_count=result.refused,
        outcomes=sorted(result.outcomes, key=lambda outcome: outcome["line"]),
        **fields,
    )


def billing_import_run(*, job: BillingImport) -> BillingImport:
    """Runs a queued, mapped import and records its outcome; any other job is left alone.

    Claimed with a conditional update, so a second delivery of the task does
    nothing. A file that cannot be imported fails the job with the reason
    (nothing changed); any other error puts the job back in the queue and
    propagates, for the task to retry.
    """
    jobs = BillingImport.objects.filter(pk=job.pk)
    claimed = jobs.filter(status=ImportStatus.QUEUED, mapped=True).update(
        status=ImportStatus.RUNNING,
        started_at=timezone.now(),
        bytes_read=0,
        rows_read=0,
        rows_applied=0,
        error="",
    )
    if not claimed:
        job.refresh_from_db()
        return job

    def reading(bytes_read: int, rows_read: int) -> None:
        # Autocommit, outside the import's transaction, so the progress bar sees it at once.
        jobs.update(bytes_read=bytes_read, rows_read=rows_read)

    def applying(rows_applied: int) -> None:
        jobs.update(rows_applied=rows_applied)

    job.refresh_from_db()
    try:
        try:
            stream = job.file.open("rb")
        except OSError as error:
            raise ReportError("The uploaded file is no longer available; upload it again.") from error
        with stream:
            return billing_import_execute(job=job, file=stream, on_progress=reading, on_applied=applying)
    except ReportError as error:
        jobs.update(status=ImportStatus.FAILED, error=str(error), finished_at=timezone.now())
    except BaseException:
        jobs.filter(status=ImportStatus.RUNNING).update(status=ImportStatus.QUEUED)
        raise
    job.refresh_from_db()
    return job


def billing_import_execute(
    *,
    job: BillingImport,
    file: IO[bytes],
    on_progress: Callable[[int, int], None] | None = None,
    on_applied: Callable[[int], None] | None = None,
) -> BillingImport:
    """Imports `file` for a running `job` and records the outcome on it: its counts and listed lines.

    A file that cannot be imported fails the job with the reason (nothing
    changed); any other error propagates. The worker's run and the
    management command both end here.
    """
    jobs = BillingImport.objects.filter(pk=job.pk)
    try:
        result = billing_file_import(job=job, file=file, on_progress=on_progress, on_applied=on_applied)
    except ImportRefused as refusal:
        _finish(jobs, refusal.result, status=ImportStatus.FAILED, error=str(refusal))
    except ReportError as error:
        jobs.update(status=ImportStatus.FAILED, error=str(error), finished_at=timezone.now())
    else:
        _finish(
            jobs,
            result,
            status=ImportStatus.SUCCEEDED,
            bytes_read=job.bytes_total,
            rows_applied=result.rows_read,
        )
    job.refresh_from_db()
    logger.info("Billing import %s: %s", job.pk, job.status)
    return job


def billing_import_fail(*, job_id: int, error: str) -> None:
    """Marks the job failed with `error`, unless it has finished."""
    BillingImport.objects.filter(pk=job_id, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]).update(
        status=ImportStatus.FAILED, error=error, finished_at=timezone.now()
    )


# ---- Review -----------------------------------------------------------------


@transaction.atomic
def review_row_resolve(*, acting: Membership, review: ReviewRow, referral: Referral | None) -> ReviewRow:
    """Saves an unmatched imported row to the referral an admin picked, or dismisses it (`referral` None).

    The row keeps its key, so importing its file again leaves it as it is;
    a dismissed row stays out. The patient's account number, if the row has
    one, is remembered on the referral like an import's match.
    """
    if not acts_as(acting, ADMINS, organization_id=review.organization_id):
        raise PermissionDenied("Only admins resolve imported rows.")
    current = ReviewRow.objects.select_for_update().select_related("import_run").get(pk=review.pk)
    if current.status != ReviewStatus.PENDING:
        raise ValidationError("This row has already been resolved.")
    current.resolved_by, current.resolved_at = acting.user, timezone.now()
    if referral is None:
        current.status = ReviewStatus.DISMISSED
        current.save(update_fields=["status", "resolved_by", "resolved_at"])
        return current
    if referral.organization_id != current.organization_id:
        raise ValidationError("Choose one of your organization's referrals.")
    values = dict(current.values)
    fingerprint = values.pop("fingerprint")
    row = ImportedRow(**values, key=current.row_key, fingerprint=fingerprint, clinic_id=referral.clinic_id)
    built = _Applier(job=current.import_run, result=ImportResult()).build(
        row, referral.pk, referral.clinic_id
    )
    organization = referral.organization
    # One row: its key's uniqueness and its checks can be asked of the database first.
    built.validate_constraints()
    if isinstance(built, Visit):
        billing_rows_create_bulk(organization=organization, visits=[built], payments=[])
    else:
        billing_rows_create_bulk(organization=organization, visits=[], payments=[built])
    if row.account_number:
        referral_account_numbers_remember(
            organization=organization, numbers={referral.pk: row.account_number}
        )
    current.status, current.referral = ReviewStatus.RESOLVED, referral
    current.save(update_fields=["status", "referral", "resolved_by", "resolved_at"])
    return current
