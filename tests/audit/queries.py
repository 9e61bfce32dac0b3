"""What recording a page's access event adds to its queries, for tests that count a recorded page's."""

from django.db import connection


def access_event_queries() -> int:
    """One statement on PostgreSQL; on SQLite the head, the event, its referrals, and a savepoint's two."""
    return 1 if connection.vendor == "postgresql" else 5
