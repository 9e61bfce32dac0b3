from django.apps import AppConfig


class AnnouncementsConfig(AppConfig):
    """Service announcements: one email per matching source, logged as a touch in their outreach history."""

    name = "announcements"

    def ready(self) -> None:
        from . import navigation  # noqa: F401  (registers its menu entry and service links)
