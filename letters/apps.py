from django.apps import AppConfig


class LettersConfig(AppConfig):
    """Outcome letters to referring physicians: composed, reviewed, emailed or printed, and followed up."""

    name = "letters"

    def ready(self) -> None:
        # Adds the letters' sections to referral and physician pages, the menu
        # entry, the home-page card, the settings section and what retention erases of a patient in letters.
        from . import home_cards, navigation, panels, retention, settings_sections  # noqa: F401
