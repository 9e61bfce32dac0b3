from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.module_loading import autodiscover_modules


class ClinicsConfig(AppConfig):
    """Tenancy: organizations (clinic groups), their clinics, staff and roles."""

    name = "clinics"

    def ready(self) -> None:
        # Registers the clinics' own menu entries, settings section and home card.
        from . import home_cards, navigation, settings_sections  # noqa: F401
        from .vocabulary import populations_after_migrate

        post_migrate.connect(populations_after_migrate, sender=self)
        # Every app's tables for the organization data export (clinics/exports/registry.py),
        # this one's included: loaded by name, so clinics names no app above it.
        autodiscover_modules("export_tables")
