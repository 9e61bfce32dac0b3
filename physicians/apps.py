from django.apps import AppConfig


class PhysiciansConfig(AppConfig):
    """The referral-source directory: physicians, practices, gatekeepers and payers."""

    name = "physicians"

    def ready(self) -> None:
        from . import navigation  # noqa: F401  (the directory's menu entries)
