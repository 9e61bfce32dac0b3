from django.apps import AppConfig


class BillingConfig(AppConfig):
    """A referral's dated visits and payments, typed or imported from the clinic's EMR, and its totals."""

    name = "billing"

    def ready(self) -> None:
        # Adds the visits and payments section to referral pages and the imports' menu entry.
        from . import navigation, panels  # noqa: F401
