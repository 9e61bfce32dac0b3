import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from config.celery import RapportTask

from .exports.services import organization_export_fail, organization_export_run, organization_exports_sweep

logger = logging.getLogger(__name__)


class OrganizationExportTask(RapportTask):
    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        # Called once retries are spent, or for an error no retry can fix: the
        # export must not stay waiting for ever.
        if isinstance(exc, SoftTimeLimitExceeded):
            error = "The export took too long and was stopped. Tell your administrator."
        else:
            error = (
                "The export stopped because of an unexpected error. "
                "Try again; if it fails again, tell your administrator."
            )
        export_id = kwargs["export_id"] if "export_id" in kwargs else args[0]
        organization_export_fail(export_id=export_id, error=error)


# acks_late is safe: the service claims the export with a conditional update, so
# a redelivered message finds it claimed or written and does nothing. The task
# takes the export's id only: no data travels through the broker. It reads every
# table of the organization, so it gets longer than the house ten minutes, and
# still less than the broker's hour before it hands an unacknowledged message out again.
@shared_task(
    name="clinics.export_organization",
    base=OrganizationExportTask,
    acks_late=True,
    soft_time_limit=30 * 60,
    time_limit=32 * 60,
)
def export_organization(export_id: int) -> None:
    organization_export_run(export_id=export_id)


@shared_task(name="clinics.sweep_organization_exports")
def sweep_organization_exports() -> None:
    sweep = organization_exports_sweep()
    logger.info(
        "Organization exports: %d queued again, %d given up, %d expired",
        sweep.requeued,
        sweep.given_up,
        sweep.expired,
    )
