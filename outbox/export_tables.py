"""The outbox's tables in the organization data export (clinics/exports/registry.py)."""

from clinics.exports.registry import register

from .models import EmailSuppression, OutboundEmail

register(
    OutboundEmail,
    name="emails",
    description=(
        "Every email Rapport sent or tried to send for the organization: to whom, its subject, "
        "when and how it went. The bodies and headers are left out: they carry one-time links."
    ),
    exclude_fields=("body_text", "body_html", "headers", "unsubscribe_token", "claim_token"),
)
register(
    EmailSuppression,
    name="email_suppressions",
    description="Addresses Rapport no longer emails (unsubscribed, bounced, complained).",
)
