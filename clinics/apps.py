from django.apps import AppConfig


class ClinicsConfig(AppConfig):
    """Tenancy: organizations (clinic groups), their clinics, staff and roles."""

    name = "clinics"

    def ready(self) -> None:
        # Registers the clinics' own menu entries, settings section and home card.
        from . import home_cards, navigation, settings_sections  # noqa: F401
