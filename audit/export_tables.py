"""The access trail in the organization data export (clinics/exports/registry.py)."""

from clinics.exports.registry import exclude, register

from .models import AccessEvent, AccessEventReferral, AuditSettings, ChainHead

register(
    AccessEvent,
    name="access_events",
    description="Who opened which patient's data, when, from where and how; sign-ins, role, settings and "
    "export events; each chained to the one before it (seq, prev_hash, hash: see audit_verify).",
)
register(
    AccessEventReferral,
    name="access_event_referrals",
    description="The referrals each access event showed: one row per event and referral.",
)
register(
    AuditSettings, name="audit_settings", description="How long the organization keeps its access events."
)
exclude(ChainHead, reason="the chain's last number and hash, which access_events.csv ends with.")
