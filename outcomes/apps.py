from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    """Outcome measures, care notes and the patient's NPS of a referral, and the scorecards built on them."""

    name = "outcomes"
