import logging

from celery import shared_task

from clinics.models import Organization

from .rollups import rollups_verify

logger = logging.getLogger(__name__)


@shared_task(name="analytics.verify_rollups")
def verify_rollups() -> None:
    """The nightly tick: one task per organization, so one organization's trouble never holds up another."""
    for organization_id in Organization.objects.values_list("pk", flat=True):
        verify_organization_rollups.delay(organization_id)


@shared_task(name="analytics.verify_organization_rollups")
def verify_organization_rollups(organization_id: int) -> None:
    """Recomputes one organization's rollups from scratch and repairs what differs (a rerun finds nothing)."""
    organization = Organization.objects.get(pk=organization_id)
    check = rollups_verify(organization=organization, repair=True)
    log = logger.warning if not check.clean else logger.info
    log(
        "Rollups of organization %s: %d referrals checked, %d facts and %d touch-day cells repaired",
        organization_id,
        check.facts_checked,
        check.facts_wrong,
        check.touch_cells_wrong,
    )
