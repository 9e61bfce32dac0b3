from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Dashboards over the other apps' data, from rollups kept in step with their writes."""

    name = "analytics"

    def ready(self) -> None:
        # Keeps the rollups in step with referrals, visits, payments and
        # touches; adds the drill-down filters to the referral list and the menu entry.
        from . import drilldown, hooks, navigation  # noqa: F401
