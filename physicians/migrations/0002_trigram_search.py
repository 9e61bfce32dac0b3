"""Indexes for the physician typeahead, on PostgreSQL only.

`search_text LIKE '%fragment%'` uses a GIN trigram index there, and a
two-letter surname start uses a pattern index on lower(last_name); SQLite
scans, which is fine at the sizes it serves.
"""

from django.db import migrations

INDEXES = [
    ("physicians_phys_search_trgm", "physicians_physician", "USING gin (search_text gin_trgm_ops)"),
    ("physicians_practice_search_trgm", "physicians_practice", "USING gin (search_text gin_trgm_ops)"),
    ("physicians_phys_surname_prefix", "physicians_physician", "(organization_id, lower(last_name) text_pattern_ops)"),
]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, definition in INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} {definition}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("physicians", "0001_initial")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
