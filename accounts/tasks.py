import logging

from celery import shared_task

from .services import session_sweep_expired

logger = logging.getLogger(__name__)


@shared_task(name="accounts.sweep_expired_sessions")
def sweep_expired_sessions() -> None:
    deleted = session_sweep_expired()
    logger.info("Removed %d expired sessions", deleted)
