from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The access audit trail: who saw which patient's data, chained so tampering shows."""

    name = "audit"

    def ready(self) -> None:
        # Records sign-ins, failed sign-ins, lockouts, role and settings
        # changes; adds the audit pages to the admin menu and the retention
        # setting to the settings page.
        from . import navigation, receivers, settings_sections  # noqa: F401
