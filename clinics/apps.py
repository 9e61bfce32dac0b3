from django.apps import AppConfig


class ClinicsConfig(AppConfig):
    """Tenancy: organizations (clinic groups), their clinics, staff and roles."""

    name = "clinics"

    def ready(self) -> None:
        from . import navigation  # noqa: F401  (the clinics' own menu entries)
