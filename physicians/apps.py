from django.apps import AppConfig


class PhysiciansConfig(AppConfig):
    """The referral-source directory: physicians, practices, gatekeepers and payers."""

    name = "physicians"
