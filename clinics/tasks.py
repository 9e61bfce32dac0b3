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
# table of the organization (about 3,000 rows a second on a busy machine, so
# millions of rows take most of an hour), so it gets two hours, not the house
# ten minutes; if the broker hands the unacknowledged message out again after
# its hour, the second run finds the export claimed, its lease renewed, and stops.
@shared_task(
    name="clinics.export_organization",
    base=OrganizationExportTask,
    acks_late=True,
    soft_time_limit=2 * 60 * 60,
    time_limit=2 * 60 * 60 + 5 * 60,
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
