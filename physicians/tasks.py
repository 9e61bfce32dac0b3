import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from config.celery import RapportTask

from .models import NppesImport
from .nppes import nppes_import_fail, nppes_import_run, nppes_imports_sweep

logger = logging.getLogger(__name__)

# The national file takes minutes, far beyond the default limit for tasks.
IMPORT_SOFT_TIME_LIMIT = 2 * 60 * 60
IMPORT_TIME_LIMIT = IMPORT_SOFT_TIME_LIMIT + 5 * 60


class NppesImportTask(RapportTask):
    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        # Called once retries are spent (or for an error no retry can fix): the
        # job must not stay queued or running for ever.
        if isinstance(exc, SoftTimeLimitExceeded):
            error = (
                f"The import took longer than {IMPORT_SOFT_TIME_LIMIT // 60} minutes and was stopped; "
                "nothing was changed. Import fewer states at a time."
            )
        else:
            error = (
                "The import stopped because of an unexpected error; nothing was changed. "
                "Try again; if it fails again, tell your administrator."
            )
        job_id = kwargs["job_id"] if "job_id" in kwargs else args[0]
        nppes_import_fail(job_id=job_id, error=error)


# acks_late is safe: the service claims the job with a conditional update, so a
# redelivered message finds it claimed and does nothing, unless its run's lease
# ran out (its worker died), when it takes the job over (clinics/jobs.py).
@shared_task(
    name="physicians.import_nppes_file",
    base=NppesImportTask,
    acks_late=True,
    soft_time_limit=IMPORT_SOFT_TIME_LIMIT,
    time_limit=IMPORT_TIME_LIMIT,
)
def import_nppes_file(job_id: int) -> None:
    job = NppesImport.objects.select_related("organization").filter(pk=job_id).first()
    if job is None:
        logger.info("NPPES import %s was deleted before it ran", job_id)
        return
    job = nppes_import_run(job=job)
    logger.info("NPPES import %s: %s", job.pk, job.status)


@shared_task(name="physicians.sweep_nppes_imports")
def sweep_nppes_imports() -> None:
    sweep = nppes_imports_sweep()
    logger.info("NPPES imports: %d queued again, %d given up", sweep.requeued, sweep.given_up)
