from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Staff user accounts, login, and the session lifetime policy."""

    name = "accounts"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the login receiver)
