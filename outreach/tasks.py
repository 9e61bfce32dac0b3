import logging

from celery import shared_task

from clinics.models import Organization
from clinics.services import register_organization_settings_changed

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


@register_organization_settings_changed
def _cadences_may_have_changed(organization: Organization) -> None:
    """New tier cadences show on Attention within moments, evaluated by a worker.

    Not in the admin's request: the sweep reads every source of the
    organization and holds its lock while it runs. Clinics calls this after
    the commit; should the broker be down, the morning run catches up.
    """
    flag_organization_sources.delay(organization.pk)
