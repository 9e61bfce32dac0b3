"""The NPPES import service, and the jobs that run it in the worker.

nppes_file_import() runs the two phases, reading then bulk, over a temporary
file; the management command and the benchmark call it directly. An upload
from the import page becomes an NppesImport job instead: enqueued here, claimed
and run by the task with progress saved as it reads, its outcome recorded on
the job for the page to show.
"""

import logging
import tempfile
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from accounts.models import User
from clinics.jobs import Requeued
from clinics.models import Organization

from ..import_jobs import import_lease
from ..models import ImportStatus, NppesImport
from .bulk import _apply
from .reading import ByteStream, NppesFileError, NppesImportResult, _read, nppes_filters_clean

logger = logging.getLogger(__name__)


def nppes_file_import(
    *,
    organization: Organization,
    file: ByteStream,
    states: Iterable[str] = (),
    taxonomies: Iterable[str] = (),
    on_progress: Callable[[int, int], None] | None = None,
    on_applying: Callable[[], None] | None = None,
    on_applied: Callable[[NppesImportResult], None] | None = None,
) -> NppesImportResult:
    """Imports the individual providers of an NPPES file, opened in binary, into `organization`.

    Keeps providers practising in `states` (all states when empty) whose primary
    taxonomy matches `taxonomies` (the usual referring specialties when empty).
    `on_progress(bytes_read, rows_read)` is called every few thousand rows while
    reading; `on_applying()` first in the transaction that applies the rows
    and `on_applied(result)` last, so an error either raises leaves nothing
    imported. Raises NppesFileError, with nothing imported, if the file is not
    a well-formed NPPES file.
    """
    states, taxonomies = nppes_filters_clean(states=states, taxonomies=taxonomies)
    result = NppesImportResult()
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as rows:
        _read(file, states=states, taxonomies=taxonomies, out=rows, result=result, on_progress=on_progress)
        _apply(organization, rows, result=result, on_applying=on_applying, on_applied=on_applied)
    return result


# ---- Jobs -------------------------------------------------------------------


def _queue(job_id: int) -> None:
    from ..tasks import import_nppes_file  # tasks.py imports this package

    import_nppes_file.delay(job_id)


def nppes_import_enqueue(
    *,
    organization: Organization,
    user: User,
    uploaded_file: UploadedFile,
    states: list[str],
    taxonomies: list[str],
) -> NppesImport:
    """Saves the uploaded file as an import job and queues it for the worker."""
    states, taxonomies = nppes_filters_clean(states=states, taxonomies=taxonomies)
    job = NppesImport(
        organization=organization,
        created_by=user,
        file=uploaded_file,
        original_name=Path(uploaded_file.name or "").name[:255],
        states=states,
        taxonomies=taxonomies,
        bytes_total=uploaded_file.size or 0,
    )
    job.full_clean()
    with transaction.atomic():
        job.save()
        transaction.on_commit(lambda: _queue(job.pk))
    return job


# The claim and lease of an import job.
JOBS = import_lease(
    model=NppesImport,
    queue=_queue,
    smaller="Import fewer states",
    progress_reset={"bytes_read": 0, "rows_read": 0},
)


def nppes_import_run(*, job: NppesImport) -> NppesImport:
    """Runs an import job this run can claim, and records its outcome; any other job is left alone.

    Claimed with a conditional update (`JOBS`), so a second delivery of the
    same task does nothing, and a job whose worker died is taken over once
    its lease runs out. The outcome is recorded in the transaction that
    applies the rows, under the claim: a run that lost it leaves nothing. A
    bad file fails the job with the reason. Any other error puts the job back
    in the queue and propagates: the task retries it or, when it gives up,
    marks the job failed (`nppes_import_fail`).
    """
    claimed = JOBS.claim(job.pk)
    if claimed is None:
        logger.info("NPPES import %s is not waiting to run; nothing to do", job.pk)
        job.refresh_from_db()
        return job

    def report(bytes_read: int, rows_read: int) -> None:
        # Autocommit, outside the import's transaction, so the progress bar sees it at once.
        JOBS.renew(claimed, bytes_read=bytes_read, rows_read=rows_read)

    def succeed(result: NppesImportResult) -> None:
        JOBS.finish(
            claimed,
            status=ImportStatus.SUCCEEDED,
            bytes_read=result.bytes_read,
            rows_read=result.rows_read,
            created_count=result.created,
            updated_count=result.updated,
            unchanged_count=result.unchanged,
            skipped_count=result.skipped,
            invalid_count=result.invalid,
            practices_created=result.practices_created,
            invalid_rows=result.invalid_rows,
        )

    with JOBS.running(claimed, name="NPPES import"):
        try:
            try:
                stream = claimed.file.open("rb")
            except OSError as error:
                raise NppesFileError("The uploaded file is no longer available; upload it again.") from error
            with stream:
                nppes_file_import(
                    organization=claimed.organization,
                    file=stream,
                    states=claimed.states,
                    taxonomies=claimed.taxonomies,
                    on_progress=report,
                    # Holds the job's row while the rows are written: no other run takes the job meanwhile.
                    on_applying=lambda: JOBS.hold(claimed),
                    on_applied=succeed,
                )
        except NppesFileError as error:
            JOBS.finish(claimed, status=ImportStatus.FAILED, error=str(error))
    job.refresh_from_db()
    return job


def nppes_import_fail(*, job_id: int, error: str) -> None:
    """Marks the job failed with `error`, unless it has finished."""
    JOBS.fail(job_id, error)


def nppes_imports_sweep(*, now: datetime | None = None) -> Requeued:
    """Queues again the imports whose message or worker was lost, or gives them up; safe to run twice."""
    return JOBS.requeue_stalled(now=now)
