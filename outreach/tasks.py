import logging

from celery import shared_task

from clinics.models import Organization

from .flags import flags_update

logger = logging.getLogger(__name__)


@shared_task(name="outreach.flag_sources")
def flag_sources() -> None:
    """The daily tick: one task per organization, so one organization's trouble never holds up another."""
    for organization_id in Organization.objects.values_list("pk", flat=True):
        flag_organization_sources.delay(organization_id)


@shared_task(name="outreach.flag_organization_sources")
def flag_organization_sources(organization_id: int) -> None:
    organization = Organization.objects.get(pk=organization_id)
    changes = flags_update(organization=organization)
    logger.info(
        "Flags for organization %s: %d opened, %d updated, %d closed",
        organization_id,
        changes.opened,
        changes.updated,
        changes.closed,
    )
