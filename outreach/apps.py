from django.apps import AppConfig


class OutreachConfig(AppConfig):
    """Outreach touches, contact cadence and the flags on slipping sources."""

    name = "outreach"

    def ready(self) -> None:
        from . import panels  # noqa: F401  (adds the touch timelines to physician and practice pages)
