from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Staff user accounts, login, and the session lifetime policy."""

    name = "accounts"

    def ready(self) -> None:
        import config.ids  # noqa: F401  (registers the overflow-safe `__in` lookup for every integer field)
        from config.text import apply_to_models

        from . import signals  # noqa: F401  (connects the login receiver)

        # Here, the first of Rapport's apps: every model of every app is loaded by now.
        apply_to_models()
