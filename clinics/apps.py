from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ClinicsConfig(AppConfig):
    """Tenancy: organizations (clinic groups), their clinics, staff and roles."""

    name = "clinics"

    def ready(self) -> None:
        # Registers the clinics' own menu entries, settings section and home card.
        from . import home_cards, navigation, settings_sections  # noqa: F401
        from .vocabulary import populations_after_migrate

        post_migrate.connect(populations_after_migrate, sender=self)
