"""Search text in the new form (physicians/search.py), and an index for an NPI's last digits.

The search text is recomputed with the same functions save() and the NPPES
import use, so old and new rows compare alike: a physician's is their name
without punctuation or credentials; a practice's also holds its phone and fax
digits. On PostgreSQL a trigram index on the NPI serves `npi LIKE '%7893'`;
SQLite scans, which is fine at the sizes it serves.
"""

from django.db import migrations

from physicians.search import physician_search_text, practice_search_text

BATCH = 2000
NPI_INDEX = "physicians_phys_npi_trgm"


def recompute(apps, schema_editor):
    Physician = apps.get_model("physicians", "Physician")
    Practice = apps.get_model("physicians", "Practice")
    for model, fields, text in (
        (Physician, ("first_name", "middle_name", "last_name"), physician_search_text),
        (Practice, ("name", "city", "phone", "fax"), practice_search_text),
    ):
        batch = []
        for row in model.objects.only("pk", *fields).order_by("pk").iterator(chunk_size=BATCH):
            row.search_text = text(**{field: getattr(row, field) for field in fields})
            batch.append(row)
            if len(batch) == BATCH:
                model.objects.bulk_update(batch, ["search_text"])
                batch = []
        model.objects.bulk_update(batch, ["search_text"])


def create_npi_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {NPI_INDEX} ON physicians_physician USING gin (npi gin_trgm_ops)"
        )


def drop_npi_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {NPI_INDEX}")


class Migration(migrations.Migration):
    dependencies = [("physicians", "0003_contact_cadence_override")]

    operations = [
        migrations.RunPython(recompute, migrations.RunPython.noop, elidable=True),
        migrations.RunPython(create_npi_index, drop_npi_index),
    ]
