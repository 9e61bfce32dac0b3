from django.apps import AppConfig


class AnnouncementsConfig(AppConfig):
    """Service announcements: one email per matching source, logged as a touch in their outreach history."""

    name = "announcements"
