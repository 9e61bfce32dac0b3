"""Phone and fax numbers of practices, physicians and gatekeepers are stored in E.164.

A value that is no number Rapport can read is kept as typed and listed. A
gatekeeper's extension typed after the number ("303-555-0142 x12") moves to
their extension field when that is empty. The numbers are rewritten while
the columns are plain text; a practice's search text holds the same digits
either way, so it needs no recomputing.
"""

from django.db import migrations

import clinics.phones


def to_e164(apps, schema_editor):
    normalize = clinics.phones.phone_numbers_normalize
    kept = normalize(apps.get_model("physicians", "Practice"), ("phone", "fax"))
    kept += normalize(apps.get_model("physicians", "Physician"), ("phone",))
    kept += normalize(apps.get_model("physicians", "Gatekeeper"), ("phone",), extension_field="extension")
    clinics.phones.phone_numbers_report(kept)


class Migration(migrations.Migration):
    dependencies = [
        ("clinics", "0008_clinic_phone_e164"),
        ("physicians", "0004_search_text_forgives_spelling"),
    ]

    operations = [
        # E.164 text is still a number as typed: nothing to undo.
        migrations.RunPython(to_e164, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="gatekeeper",
            name="phone",
            field=clinics.phones.PhoneField(blank=True, max_length=30, region=None),
        ),
        migrations.AlterField(
            model_name="physician",
            name="phone",
            field=clinics.phones.PhoneField(blank=True, max_length=30, region=None),
        ),
        migrations.AlterField(
            model_name="practice",
            name="fax",
            field=clinics.phones.PhoneField(blank=True, max_length=30, region=None),
        ),
        migrations.AlterField(
            model_name="practice",
            name="phone",
            field=clinics.phones.PhoneField(blank=True, max_length=30, region=None),
        ),
    ]
