"""Search text in the new form (physicians/search.py): no punctuation or credentials; NPI and phone digits.

Computed with the same functions save() and the NPPES import use, so old and
new rows compare alike. The trigram indexes of 0002 stay as they are.
"""

from django.db import migrations

from physicians.search import physician_search_text, practice_search_text

BATCH = 2000


def recompute(apps, schema_editor):
    Physician = apps.get_model("physicians", "Physician")
    Practice = apps.get_model("physicians", "Practice")
    for model, fields, text in (
        (
            Physician,
            ("first_name", "middle_name", "last_name", "npi", "phone"),
            physician_search_text,
        ),
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


class Migration(migrations.Migration):
    dependencies = [("physicians", "0003_contact_cadence_override")]

    operations = [migrations.RunPython(recompute, migrations.RunPython.noop, elidable=True)]
