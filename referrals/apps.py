from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    """Referral intake and the referral pipeline, with plans of care."""

    name = "referrals"

    def ready(self) -> None:
        # Adds the referral sections to physician pages and the pipeline's menu entries.
        from . import navigation, panels  # noqa: F401
