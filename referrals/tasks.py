import logging

from celery import shared_task

from .services import pending_documents_sweep

logger = logging.getLogger(__name__)


@shared_task(name="referrals.sweep_pending_documents")
def sweep_pending_documents() -> None:
    swept = pending_documents_sweep()
    logger.info("Removed %d documents kept for intake forms never sent again", swept)
