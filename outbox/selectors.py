from django.db.models import QuerySet

from clinics.models import Organization

from .models import EmailSuppression, OutboundEmail


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
