from celery import shared_task

from .services import email_send_pending


@shared_task(name="outbox.send_pending")
def send_pending() -> int:
    """Sends the email that is due. Safe to run twice, or twice at once: rows are claimed in the database."""
    return email_send_pending()
