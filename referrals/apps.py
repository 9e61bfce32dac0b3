from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    """Referral intake and the referral pipeline, with plans of care."""

    name = "referrals"
