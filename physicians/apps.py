from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _prepare_search(sender, connection, **kwargs) -> None:
    """Gives each database connection what physician search compares names with (physicians/search.py)."""
    from .search import SIMILARITY_THRESHOLD, strict_word_similarity

    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "strict_word_similarity", 2, strict_word_similarity, deterministic=True
        )
    elif connection.vendor == "postgresql":
        # The threshold of pg_trgm's %>> operator is a setting, not an argument.
        with connection.cursor() as cursor:
            cursor.execute(f"SET pg_trgm.strict_word_similarity_threshold = {SIMILARITY_THRESHOLD}")


class PhysiciansConfig(AppConfig):
    """The referral-source directory: physicians, practices, gatekeepers and payers."""

    name = "physicians"

    def ready(self) -> None:
        from . import home_cards, navigation  # noqa: F401  (the directory's home card and menu entries)

        connection_created.connect(_prepare_search, dispatch_uid="physicians.search")
