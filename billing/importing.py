"""Importing a CSV report of visits or payments, in two phases, as the NPPES import does.

1. **Read and check** (`_read`): every line of the file is read, skipped
   (blank, page header, totals) or parsed with the mapping; a line that
   cannot be read (a date or an amount that is not one, a required cell
   empty) is refused with its line number and reason. Rows are matched to
   referrals (billing/matching.py) while reading (billing/import_rows.py)
   and staged: in a temporary table on PostgreSQL, a temporary file
   elsewhere. If any line is refused, the import stops here and nothing
   changes.
2. **Apply**, in one transaction: each row's stable key (the EMR's line id,
   else a hash of the columns that identify it) is looked up. A new matched
   row is created; a row whose key is known is left as it is when the file
   says the same as last time (so a rerun, or last month's file overlapping
   this month's, counts nothing twice), and updated when the EMR changed it;
   a row removed by hand stays removed. A charge report's lines are kept
   under the visit of their referral, day and clinic, so a report that lists
   a visit once per CPT code counts it once. Unmatched and ambiguous rows go
   to the review list (once per key). Account numbers of rows matched by
   name are remembered on their referrals, and the touched referrals' totals
   recomputed. PostgreSQL does this set-based (billing/apply_postgres.py),
   other databases with the ORM (billing/apply_portable.py), to the same rows.
"""

import csv
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from clinics.clock import organization_today
from clinics.jobs import Requeued
from clinics.models import Membership, Organization
from clinics.roles import ADMINS, acts_as
from physicians.import_jobs import import_lease
from physicians.models import ImportStatus
from referrals.models import Referral
from referrals.services import referral_account_numbers_remember

from .apply_portable import PortableApplier
from .apply_postgres import PostgresApplier
from .import_rows import (
    Directory,
    ImportedRow,
    ImportRefused,
    ImportResult,
    RowReader,
    refusal_reason,
)
from .mapping import guess_mapping, mapping_problems
from .matching import Matcher
from .models import BillingImport, ColumnMapping, ImportKind, ReviewRow, ReviewStatus
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
)
from .services import referral_totals_recompute

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 5000
PREVIEW_ROWS = 8
MAX_REFUSED_BEFORE_STOPPING = 1000

Applier = PortableApplier | PostgresApplier


def _read(
    report: Report,
    reader: RowReader,
    *,
    stage: Callable[[ImportedRow], None],
    result: ImportResult,
    on_progress: Callable[[int, int], None] | None,
) -> None:
    """Reads every data line and stages its row; refused lines are counted and listed in `result`.

    Once a line is refused the rest are only checked: nothing will be written.
    """
    header_key = [normalize_heading(cell) for cell in report.header]
    try:
        for line in report.lines:
            if is_skipped(line.cells, header_key):
                continue
            result.rows_read += 1
            try:
                row = reader.read(line.number, line.cells)
            except (ValueError, ValidationError) as error:
                result.refused += 1
                result.note(line.number, "refused", refusal_reason(error))
                if result.refused >= MAX_REFUSED_BEFORE_STOPPING:
                    break
                continue
            if not result.refused:
                stage(row)
            if on_progress is not None and result.rows_read % PROGRESS_EVERY == 0:
                on_progress(report.bytes_read, result.rows_read)
    except UnicodeDecodeError as error:
        raise ReportError("The file changes encoding part way through; save it again as UTF-8.") from error
    except csv.Error as error:
        raise ReportError(f"The file is not a well-formed CSV report: {error}.") from error


def billing_file_import(
    *,
    job: BillingImport,
    file: IO[bytes],
    on_progress: Callable[[int, int], None] | None = None,
    on_applying: Callable[[], None] | None = None,
    on_applied: Callable[[int], None] | None = None,
    on_imported: Callable[[ImportResult], None] | None = None,
    portable: bool = False,
) -> ImportResult:
    """Imports `file` (binary) as `job` says (kind, encoding, mapping); all or nothing.

    Raises ReportError when the file cannot be read as a report and
    ImportRefused when some of its lines cannot be read; nothing is written
    then. On PostgreSQL the rows are applied set-based
    (billing/apply_postgres.py), elsewhere, or with `portable`, with the ORM
    (billing/apply_portable.py); both give the same rows. `on_applying()` is
    called first in the transaction that applies them, `on_imported(result)`
    last, so an error either raises leaves nothing imported. The benchmark
    calls it directly.
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
        directory=Directory(organization_id=organization.pk),
        today=organization_today(organization),
    )
    result = ImportResult()
    set_based = connection.vendor == "postgresql" and not portable
    applier: Applier = (PostgresApplier if set_based else PortableApplier)(job=job, result=result)
    with applier:
        _read(report, reader, stage=applier.stage, result=result, on_progress=on_progress)
        if result.refused:
            raise ImportRefused(
                f"{result.refused} line{'s' if result.refused != 1 else ''} cannot be read; "
                "nothing was imported. Correct them in the file (or the mapping) and import it again.",
                result,
            )
        with transaction.atomic():
            if on_applying is not None:
                on_applying()
            applier.apply(on_applied=on_applied)
            referral_account_numbers_remember(organization=organization, numbers=reader.remembered)
            if on_imported is not None:
                on_imported(result)
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


def _queue(job_id: int) -> None:
    from .tasks import import_billing_file  # tasks.py imports this module

    import_billing_file.delay(job_id)


def _enqueue(job: BillingImport) -> None:
    transaction.on_commit(lambda: _queue(job.pk))


# The claim and lease of an import job; a job waits for its mapping before it runs.
JOBS = import_lease(
    model=BillingImport,
    queue=_queue,
    smaller="Import a shorter period",
    progress_reset={"bytes_read": 0, "rows_read": 0, "rows_applied": 0},
    runnable=Q(mapped=True),
)


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


def _outcome(result: ImportResult) -> dict[str, Any]:
    """An import's counts and listed lines, as its job records them."""
    return {
        "rows_read": result.rows_read,
        "created_count": result.created,
        "updated_count": result.updated,
        "unchanged_count": result.unchanged,
        "visits_created_count": result.visits_created,
        "matched_count": result.matched,
        "unmatched_count": result.unmatched,
        "refused_count": result.refused,
        "outcomes": sorted(result.outcomes, key=lambda outcome: outcome["line"]),
    }


def billing_import_run(*, job: BillingImport) -> BillingImport:
    """Runs a mapped import this run can claim, and records its outcome; any other job is left alone.

    Claimed with a conditional update (`JOBS`), so a second delivery of the
    task does nothing, and a job whose worker died is taken over once its
    lease runs out. See `billing_import_execute` for the rest.
    """
    claimed = billing_import_claim(job=job)
    if claimed is None:
        job.refresh_from_db()
        return job
    if not claimed.file:
        # `import_billing` reads its file from disk: its run that stopped midway is no worker's to finish.
        return _refuse(
            claimed,
            "This import ran from the command line and stopped before it finished; nothing was changed. "
            "Run the command again.",
        )
    try:
        stream = claimed.file.open("rb")
    except OSError:
        return _refuse(claimed, "The uploaded file is no longer available; upload it again.")
    with stream:
        return billing_import_execute(job=claimed, file=stream)


def billing_import_claim(*, job: BillingImport) -> BillingImport | None:
    """Takes a waiting, mapped import for this run, or None if it is not waiting (`JobLease.claim`)."""
    return JOBS.claim(job.pk)


def billing_import_execute(*, job: BillingImport, file: IO[bytes]) -> BillingImport:
    """Imports `file` for a `job` this run has claimed, and records the outcome on it under the claim.

    Progress renews the claim as the file is read and applied, and the
    job's row is locked while its rows are written (`JobLease.hold`). Success is
    recorded in the transaction that applies the rows, so a run that lost
    its claim (its lease ran out and another run took over) leaves nothing.
    A file that cannot be imported fails the job with the reason and its
    listed lines (nothing changed); any other error gives the claim back and
    propagates, for the task to retry. The worker's run and the management
    command both end here.
    """

    def reading(bytes_read: int, rows_read: int) -> None:
        # Autocommit, outside the import's transaction, so the progress bar sees it at once.
        JOBS.renew(job, bytes_read=bytes_read, rows_read=rows_read)

    def applying(rows_applied: int) -> None:
        JOBS.renew(job, rows_applied=rows_applied)

    def succeed(result: ImportResult) -> None:
        JOBS.finish(
            job,
            status=ImportStatus.SUCCEEDED,
            bytes_read=job.bytes_total,
            rows_applied=result.rows_read,
            **_outcome(result),
        )

    with JOBS.running(job, name="Billing import"):
        try:
            billing_file_import(
                job=job,
                file=file,
                on_progress=reading,
                # Holds the job's row while the rows are written: no other run takes the job meanwhile.
                on_applying=lambda: JOBS.hold(job),
                on_applied=applying,
                on_imported=succeed,
            )
        except ImportRefused as refusal:
            JOBS.finish(job, status=ImportStatus.FAILED, error=str(refusal), **_outcome(refusal.result))
        except ReportError as error:
            JOBS.finish(job, status=ImportStatus.FAILED, error=str(error))
    job.refresh_from_db()
    logger.info("Billing import %s: %s", job.pk, job.status)
    return job


def _refuse(job: BillingImport, error: str) -> BillingImport:
    with JOBS.running(job, name="Billing import"):
        JOBS.finish(job, status=ImportStatus.FAILED, error=error)
    job.refresh_from_db()
    return job


def billing_import_fail(*, job_id: int, error: str) -> None:
    """Marks the job failed with `error`, unless it has finished."""
    JOBS.fail(job_id, error)


def billing_imports_sweep(*, now: datetime | None = None) -> Requeued:
    """Queues again the imports whose message or worker was lost, or gives them up; safe to run twice."""
    return JOBS.requeue_stalled(now=now)


# ---- Review -----------------------------------------------------------------


@transaction.atomic
def review_row_resolve(*, acting: Membership, review: ReviewRow, referral: Referral | None) -> ReviewRow:
    """Saves an unmatched imported row to the referral an admin picked, or dismisses it (`referral` None).

    The row is saved as an import saves a matched one (a visit line joins
    the referral's visit of that day), and keeps its key, so importing its
    file again leaves it as it is; a dismissed row stays out. The patient's
    account number, if the row has one, is remembered on the referral like
    an import's match.
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
    row = ImportedRow.from_review(current.values, key=current.row_key)
    payment = current.kind == ImportKind.PAYMENTS
    directory = Directory(organization_id=current.organization_id)
    row.payer_id = directory.payers.get(fold(row.payer)) if row.payer else None
    row.file_clinic_id = directory.clinics.get(fold(row.clinic)) if row.clinic and not payment else None
    row.assign(
        referral_id=referral.pk, number=referral.number, clinic_id=None if payment else referral.clinic_id
    )
    result = ImportResult()
    with PortableApplier(job=current.import_run, result=result) as applier:
        applier.apply_rows([row])
    if not result.created:
        (outcome,) = result.outcomes
        raise ValidationError(f"Line {current.line_number} was not saved: {outcome['reason']}")
    referral_totals_recompute(referral_ids=applier.touched)
    if row.account_number:
        referral_account_numbers_remember(
            organization=referral.organization, numbers={referral.pk: row.account_number}
        )
    current.refresh_from_db(fields=["resolved_at"])
    current.status, current.referral = ReviewStatus.RESOLVED, referral
    current.save(update_fields=["status", "referral", "resolved_by", "resolved_at"])
    return current
