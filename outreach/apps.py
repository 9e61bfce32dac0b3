from django.apps import AppConfig


class OutreachConfig(AppConfig):
    """Outreach touches, contact cadence and the flags on slipping sources."""

    name = "outreach"
