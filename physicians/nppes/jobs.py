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
from pathlib import Path

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from clinics.models import Organization

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
) -> NppesImportResult:
    """Imports the individual providers of an NPPES file, opened in binary, into `organization`.

    Keeps providers practising in `states` (all states when empty) whose primary
    taxonomy matches `taxonomies` (the usual referring specialties when empty).
    `on_progress(bytes_read, rows_read)` is called every few thousand rows while
    reading. Raises NppesFileError, with nothing imported, if the file is not a
    well-formed NPPES file.
    """
    states, taxonomies = nppes_filters_clean(states=states, taxonomies=taxonomies)
    result = NppesImportResult()
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as rows:
        _read(file, states=states, taxonomies=taxonomies, out=rows, result=result, on_progress=on_progress)
        _apply(organization, rows, result=result)
    return result


# ---- Jobs -------------------------------------------------------------------


def nppes_import_enqueue(
    *,
    organization: Organization,
    user: User,
    uploaded_file: UploadedFile,
    states: list[str],
    taxonomies: list[str],
) -> NppesImport:
    """Saves the uploaded file as an import job and queues it for the worker."""
    # tasks.py imports this package, so the task is imported when needed.
    from ..tasks import import_nppes_file

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
        transaction.on_commit(lambda: import_nppes_file.delay(job.pk))
    return job


def nppes_import_run(*, job: NppesImport) -> NppesImport:
    """Runs a queued import job and records its outcome; a job not queued is left alone.

    The job is claimed with a conditional update, so a second delivery of the
    same task does nothing. A bad file fails the job with the reason. Any other
    error puts the job back in the queue and propagates: the task retries it or,
    when it gives up, marks the job failed (`nppes_import_fail`).
    """
    jobs = NppesImport.objects.filter(pk=job.pk)
    claimed = jobs.filter(status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=timezone.now(), bytes_read=0, rows_read=0, error=""
    )
    if not claimed:
        logger.info("NPPES import %s is not queued; nothing to do", job.pk)
        job.refresh_from_db()
        return job

    def report(bytes_read: int, rows_read: int) -> None:
        # Autocommit, outside the import's transaction, so the progress bar sees it at once.
        jobs.update(bytes_read=bytes_read, rows_read=rows_read)

    try:
        try:
            stream = job.file.open("rb")
        except OSError as error:
            raise NppesFileError("The uploaded file is no longer available; upload it again.") from error
        with stream:
            result = nppes_file_import(
                organization=job.organization,
                file=stream,
                states=job.states,
                taxonomies=job.taxonomies,
                on_progress=report,
            )
    except NppesFileError as error:
        jobs.update(status=ImportStatus.FAILED, error=str(error), finished_at=timezone.now())
    except BaseException:
        jobs.filter(status=ImportStatus.RUNNING).update(status=ImportStatus.QUEUED)
        raise
    else:
        jobs.update(
            status=ImportStatus.SUCCEEDED,
            finished_at=timezone.now(),
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
    job.refresh_from_db()
    return job


def nppes_import_fail(*, job_id: int, error: str) -> None:
    """Marks the job failed with `error`, unless it has finished."""
    NppesImport.objects.filter(pk=job_id, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]).update(
        status=ImportStatus.FAILED, error=error, finished_at=timezone.now()
    )
