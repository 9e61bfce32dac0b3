from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    """Referral intake and the referral pipeline, with plans of care."""

    name = "referrals"

    def ready(self) -> None:
        from . import panels  # noqa: F401  (adds the referral sections to physician pages)
