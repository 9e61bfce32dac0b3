"""Other apps read where their email stands by their own keys, never through the outbox's models."""

import datetime

from outbox.models import EmailStatus
from outbox.selectors import DeliveryCount, EmailDelivery, email_delivery_by_key, email_delivery_counts

from .factories import OutboundEmailFactory

SENT_AT = datetime.datetime(2026, 3, 2, 15, 0, tzinfo=datetime.UTC)


def test_deliveries_are_found_by_the_callers_keys(summit, harbor, django_assert_num_queries):
    sent = OutboundEmailFactory(
        organization=summit,
        idempotency_key="letter:1:physician:7",
        to_address="ada@example.org",
        status=EmailStatus.SENT,
        attempts=1,
        sent_at=SENT_AT,
    )
    failed = OutboundEmailFactory(
        organization=summit, idempotency_key="letter:1:physician:8", status=EmailStatus.FAILED, attempts=8
    )
    OutboundEmailFactory(organization=summit, idempotency_key="letter:2:physician:7")
    OutboundEmailFactory(organization=harbor, idempotency_key="letter:1:physician:9")

    with django_assert_num_queries(1):
        deliveries = email_delivery_by_key(
            organization=summit,
            keys=["letter:1:physician:7", "letter:1:physician:8", "letter:1:physician:9", "never-queued"],
        )

    assert deliveries == {
        "letter:1:physician:7": EmailDelivery(
            email_id=sent.pk,
            to_address="ada@example.org",
            status="sent",
            status_label="Sent",
            attempts=1,
            sent_at=SENT_AT,
        ),
        "letter:1:physician:8": EmailDelivery(
            email_id=failed.pk,
            to_address=failed.to_address,
            status="failed",
            status_label="Failed",
            attempts=8,
            sent_at=None,
        ),
    }


def test_no_keys_no_deliveries(summit):
    OutboundEmailFactory(organization=summit)

    assert email_delivery_by_key(organization=summit, keys=[]) == {}


def test_counts_follow_the_status_machine_and_leave_out_empty_statuses(summit):
    statuses = [EmailStatus.SUPPRESSED, EmailStatus.SENT, EmailStatus.PENDING, EmailStatus.SENT]
    for n, status in enumerate(statuses):
        OutboundEmailFactory(organization=summit, idempotency_key=f"letter:{n}", status=status)

    deliveries = email_delivery_by_key(organization=summit, keys=[f"letter:{n}" for n in range(4)])

    assert email_delivery_counts(deliveries.values()) == [
        DeliveryCount("Pending", "pending", 1),
        DeliveryCount("Sent", "sent", 2),
        DeliveryCount("Suppressed", "suppressed", 1),
    ]
    assert email_delivery_counts([]) == []
