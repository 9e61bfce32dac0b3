from django.apps import AppConfig


class OutreachConfig(AppConfig):
    """Outreach touches, contact cadence and the flags on slipping sources."""

    name = "outreach"

    def ready(self) -> None:
        # Adds the touch timelines and cadence to physician and practice pages,
        # the menu entries, the home-page cards and the cadences' section of the
        # settings page; re-evaluates flags when a physician changes or is
        # merged, or (in the background) when the cadences are saved; revokes a
        # calendar address when its holder leaves or loses the outreach role.
        from . import flags, home_cards, navigation, panels, services, settings_sections  # noqa: F401
