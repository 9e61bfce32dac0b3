import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from config.celery import RapportTask

from .exports.services import referral_export_fail, referral_export_run, referral_exports_sweep
from .retention.services import patient_details_remove_everywhere
from .services import pending_documents_sweep

logger = logging.getLogger(__name__)


@shared_task(name="referrals.sweep_pending_documents")
def sweep_pending_documents() -> None:
    swept = pending_documents_sweep()
    logger.info("Removed %d documents kept for intake forms never sent again", swept)


class ExportTask(RapportTask):
    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        # Called once retries are spent, or for an error no retry can fix: the
        # export must not stay waiting for ever.
        if isinstance(exc, SoftTimeLimitExceeded):
            error = "The export took too long and was stopped. Narrow the filters and export again."
        else:
            error = (
                "The export stopped because of an unexpected error. "
                "Try again; if it fails again, tell your administrator."
            )
        export_id = kwargs["export_id"] if "export_id" in kwargs else args[0]
        referral_export_fail(export_id=export_id, error=error)


# acks_late is safe: the service claims the export with a conditional update, so
# a redelivered message finds it claimed or written and does nothing. The task
# takes the export's id only: filters and patient data never travel through the broker.
@shared_task(name="referrals.export_referrals", base=ExportTask, acks_late=True)
def export_referrals(export_id: int) -> None:
    referral_export_run(export_id=export_id)


@shared_task(name="referrals.sweep_exports")
def sweep_exports() -> None:
    sweep = referral_exports_sweep()
    logger.info(
        "Referral exports: %d queued again, %d given up, %d expired",
        sweep.requeued,
        sweep.given_up,
        sweep.expired,
    )


# Safe to run twice or side by side: a removed referral is no longer due, and
# rows another run holds are skipped.
@shared_task(name="referrals.remove_expired_patient_details")
def remove_expired_patient_details() -> None:
    removed = patient_details_remove_everywhere()
    logger.info("Removed the patient details of %d referrals past their retention period", removed)
