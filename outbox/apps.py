from django.apps import AppConfig


class OutboxConfig(AppConfig):
    """Every email Rapport sends: written in the transaction that causes it, sent by a worker."""

    name = "outbox"

    def ready(self) -> None:
        from . import navigation  # noqa: F401  (the email log's menu entry)
