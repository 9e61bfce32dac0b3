"""Outreach's tables in the organization data export (clinics/exports/registry.py)."""

from clinics.exports.registry import register

from .models import CalendarFeed, Flag, FollowUp, OutreachSettings, Touch

register(
    Touch, name="touches", description="Every contact with a referral source: visits, calls, lunches, emails."
)
register(
    FollowUp, name="follow_ups", description="Follow-ups planned after touches, and when they were done."
)
register(Flag, name="flags", description="Sources flagged as lapsed or declining, with the evidence.")
register(
    OutreachSettings, name="outreach_settings", description="The organization's contact cadence settings."
)
register(
    CalendarFeed,
    name="calendar_feeds",
    description="Calendar subscriptions to follow-ups, whose and when; not their secret addresses.",
    exclude_fields=("token_digest",),
)
