"""Diagnosis codes are checked against the ICD-10-CM code list when saved.

Only the check is new: codes already stored are left as they are, and the
referral's page marks any that is not an ICD-10-CM code.
"""

from django.db import migrations, models

import referrals.diagnoses


class Migration(migrations.Migration):
    dependencies = [("referrals", "0015_patient_phone_e164")]

    operations = [
        migrations.AlterField(
            model_name="referral",
            name="diagnosis_codes",
            field=models.JSONField(
                blank=True,
                default=list,
                validators=[referrals.diagnoses.validate_diagnosis_codes],
                verbose_name="diagnoses (ICD-10-CM)",
            ),
        ),
    ]
