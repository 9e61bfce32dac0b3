import datetime
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from django.db.models import QuerySet

from clinics.models import Organization

from .models import EmailStatus, EmailSuppression, OutboundEmail


def email_log(
    *, organization: Organization, status: str | None = None, kind: str | None = None
) -> QuerySet[OutboundEmail]:
    """The organization's email, newest first, without the bodies (the log never shows them)."""
    emails = OutboundEmail.objects.for_organization(organization).defer("body_text", "body_html", "headers")
    if status:
        emails = emails.filter(status=status)
    if kind:
        emails = emails.filter(kind=kind)
    return emails.order_by("-created_at", "-pk")


def email_kinds(*, organization: Organization) -> list[str]:
    """The kinds of email the organization has sent, for the log's filter."""
    return list(
        OutboundEmail.objects.for_organization(organization)
        .order_by("kind")
        .values_list("kind", flat=True)
        .distinct()
    )


def email_suppressed_addresses(*, organization: Organization) -> QuerySet[EmailSuppression, str]:
    """Lower-cased addresses that unsubscribed: leave them out of an audience (`email__lower__in=`)."""
    return EmailSuppression.objects.for_organization(organization).values_list("address", flat=True)


def email_for_unsubscribe_token(*, token: str) -> OutboundEmail | None:
    if not token:
        return None
    return OutboundEmail.objects.select_related("organization").filter(unsubscribe_token=token).first()


@dataclass(frozen=True, kw_only=True)
class EmailDelivery:
    """Where one queued email stands, as the app that queued it may show it; `email_id` links to the log."""

    email_id: int
    to_address: str
    status: str
    status_label: str
    attempts: int
    sent_at: datetime.datetime | None


def email_delivery_by_key(*, organization: Organization, keys: Iterable[str]) -> dict[str, EmailDelivery]:
    """The delivery of each email queued under these idempotency keys, by key: one query.

    The keys are the caller's own, exactly as it gave them to `email_enqueue`;
    a key never queued, or queued by another organization, is absent.
    """
    rows = (
        OutboundEmail.objects.for_organization(organization)
        .filter(idempotency_key__in=set(keys))
        .values_list("idempotency_key", "pk", "to_address", "status", "attempts", "sent_at")
        .order_by()
    )
    return {
        key: EmailDelivery(
            email_id=pk,
            to_address=to_address,
            status=status,
            status_label=EmailStatus(status).label,
            attempts=attempts,
            sent_at=sent_at,
        )
        for key, pk, to_address, status, attempts, sent_at in rows
    }


class DeliveryCount(NamedTuple):
    label: str
    status: str
    total: int


def email_delivery_counts(deliveries: Iterable[EmailDelivery]) -> list[DeliveryCount]:
    """How many of `deliveries` stand at each status, in the order of the status machine; no query.

    Statuses no delivery has are left out.
    """
    counts = Counter(delivery.status for delivery in deliveries)
    return [
        DeliveryCount(status.label, status.value, counts[status.value])
        for status in EmailStatus
        if counts[status.value]
    ]
