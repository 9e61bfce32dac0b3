from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Dashboards and digests. Reads every other app; no app imports it."""

    name = "analytics"
