from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    """Outcome measures, care notes and the patient's NPS of a referral, and the scorecards built on them."""

    name = "outcomes"

    def ready(self) -> None:
        # Adds the outcomes section to referral pages, the scorecard link to physicians', the menu entry
        # and what retention erases of a patient's words.
        from . import navigation, panels, retention  # noqa: F401
