from django.apps import AppConfig


class OutreachConfig(AppConfig):
    """Outreach touches, contact cadence and the flags on slipping sources."""

    name = "outreach"

    def ready(self) -> None:
        # Adds the touch timelines and cadence to physician and practice pages,
        # and re-evaluates flags when a physician changes or is merged.
        from . import flags, panels  # noqa: F401
