"""Clinic phone numbers are stored in E.164; a value that is no number Rapport can read is kept as typed.

The numbers are rewritten while the column is still plain text, then it
becomes a phone field (the same column: no schema change beyond that).
"""

from django.db import migrations

import clinics.phones


def to_e164(apps, schema_editor):
    kept = clinics.phones.phone_numbers_normalize(apps.get_model("clinics", "Clinic"), ("phone",))
    clinics.phones.phone_numbers_report(kept)


class Migration(migrations.Migration):
    dependencies = [("clinics", "0007_organization_holds_identity_only")]

    operations = [
        # E.164 text is still a number as typed: nothing to undo.
        migrations.RunPython(to_e164, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="clinic",
            name="phone",
            field=clinics.phones.PhoneField(blank=True, max_length=30, region=None),
        ),
    ]
