import logging

from celery import shared_task

from clinics.models import Organization

from .services import events_prune

logger = logging.getLogger(__name__)


@shared_task(name="audit.prune_events")
def prune_events() -> None:
    """The nightly tick: one task per organization, so one organization's trouble never holds up another."""
    for organization_id in Organization.objects.values_list("pk", flat=True):
        prune_organization_events.delay(organization_id)


@shared_task(name="audit.prune_organization_events")
def prune_organization_events(organization_id: int) -> None:
    result = events_prune(organization=Organization.objects.get(pk=organization_id))
    logger.info("Audit prune for organization %s: %d events removed", organization_id, result.removed)
