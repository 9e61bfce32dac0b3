from django.apps import AppConfig


class ClinicsConfig(AppConfig):
    """Tenancy: organizations (clinic groups), their clinics, staff and roles."""

    name = "clinics"
