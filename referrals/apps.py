from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    """Referral intake and the referral pipeline, with plans of care."""

    name = "referrals"

    def ready(self) -> None:
        # Adds the referral sections to physician pages, the pipeline's menu
        # entries, its home-page cards and the referral rules' section of the
        # settings page; notes the referrals each recorded page shows and
        # names them on the audit pages (access.py).
        from . import access, home_cards, navigation, panels, settings_sections  # noqa: F401
