"""Patients' phone numbers are stored in E.164; a value that is no number Rapport can read is kept as typed.

The report names the referral and the field, never the number.
"""

from django.db import migrations

import clinics.phones


def to_e164(apps, schema_editor):
    kept = clinics.phones.phone_numbers_normalize(
        apps.get_model("referrals", "Referral"), ("patient_phone",)
    )
    clinics.phones.phone_numbers_report(kept)


class Migration(migrations.Migration):
    dependencies = [
        ("clinics", "0008_clinic_phone_e164"),
        ("referrals", "0014_referral_number_required"),
    ]

    operations = [
        # E.164 text is still a number as typed: nothing to undo.
        migrations.RunPython(to_e164, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="referral",
            name="patient_phone",
            field=clinics.phones.PhoneField(max_length=30, region=None, verbose_name="patient phone"),
        ),
    ]
