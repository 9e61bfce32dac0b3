from celery import shared_task

from .services import digests_send_due


@shared_task(name="digests.send_due", acks_late=True)
def send_due() -> int:
    """The beat's tick: queues every digest that came due; a rerun or a retry queues none twice.

    Late acknowledgement is safe because the sweep is idempotent in the
    database (services.digests_send_due): a message redelivered after a crash
    finds its batches claimed and queued, or, if they never committed, still due.
    """
    return digests_send_due()
