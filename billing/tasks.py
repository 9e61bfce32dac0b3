import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from config.celery import RapportTask

from .importing import billing_import_fail, billing_import_run, billing_imports_sweep
from .models import BillingImport

logger = logging.getLogger(__name__)

# A million rows take a few minutes; a year of a busy clinic, seconds.
IMPORT_SOFT_TIME_LIMIT = 60 * 60
IMPORT_TIME_LIMIT = IMPORT_SOFT_TIME_LIMIT + 5 * 60


class BillingImportTask(RapportTask):
    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        # Called once retries are spent (or for an error no retry can fix): the job must not stay running.
        if isinstance(exc, SoftTimeLimitExceeded):
            error = (
                f"The import took longer than {IMPORT_SOFT_TIME_LIMIT // 60} minutes and was stopped; "
                "nothing was changed. Import a shorter period at a time."
            )
        else:
            error = (
                "The import stopped because of an unexpected error; nothing was changed. "
                "Try again; if it fails again, tell your administrator."
            )
        job_id = kwargs["job_id"] if "job_id" in kwargs else args[0]
        billing_import_fail(job_id=job_id, error=error)


# acks_late is safe: the service claims the job with a conditional update, so a
# redelivered message finds it claimed and does nothing, unless its run's lease
# ran out (its worker died), when it takes the job over (clinics/jobs.py).
@shared_task(
    name="billing.import_billing_file",
    base=BillingImportTask,
    acks_late=True,
    soft_time_limit=IMPORT_SOFT_TIME_LIMIT,
    time_limit=IMPORT_TIME_LIMIT,
)
def import_billing_file(job_id: int) -> None:
    job = BillingImport.objects.select_related("organization").filter(pk=job_id).first()
    if job is None:
        logger.info("Billing import %s was deleted before it ran", job_id)
        return
    job = billing_import_run(job=job)
    logger.info("Billing import %s: %s", job.pk, job.status)


@shared_task(name="billing.sweep_imports")
def sweep_imports() -> None:
    sweep = billing_imports_sweep()
    logger.info("Billing imports: %d queued again, %d given up", sweep.requeued, sweep.given_up)
