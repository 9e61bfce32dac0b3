import logging

from celery import shared_task

from clinics.models import Organization

from .services import letters_compose_due

logger = logging.getLogger(__name__)


@shared_task(name="letters.compose_due")
def compose_due() -> None:
    """The beat's tick: one task per organization, so one organization's trouble never holds up another."""
    for organization_id in Organization.objects.values_list("pk", flat=True):
        compose_due_for_organization.delay(organization_id)


@shared_task(name="letters.compose_due_for_organization", acks_late=True)
def compose_due_for_organization(organization_id: int) -> int:
    """Composes and delivers the organization's due letters; a rerun or a retry repeats nothing.

    Late acknowledgement is safe because the sweep is idempotent in the
    database (services.letters_compose_due): a message redelivered after a
    crash finds the letters its first run committed, or composes them if it
    committed nothing.
    """
    organization = Organization.objects.get(pk=organization_id)
    return letters_compose_due(organization=organization).composed
