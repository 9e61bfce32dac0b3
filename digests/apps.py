from django.apps import AppConfig


class DigestsConfig(AppConfig):
    """The weekly digest: each therapist, liaison and admin gets one email a week with what needs them."""

    name = "digests"

    def ready(self) -> None:
        # Adds the digest's entries to the account menu.
        from . import navigation  # noqa: F401
