from django.apps import AppConfig


class OutreachConfig(AppConfig):
    """Outreach touches, contact cadence and the flags on slipping sources."""

    name = "outreach"

    def ready(self) -> None:
        # Adds the touch timelines and cadence to physician and practice pages,
        # the menu entries and the announce links on the services pages;
        # re-evaluates flags when a physician changes or is merged, or (in the
        # background) when the organization's cadences change; revokes a
        # calendar address when its holder leaves or loses the outreach role.
        from . import announcement_links, flags, navigation, panels, services, tasks  # noqa: F401
