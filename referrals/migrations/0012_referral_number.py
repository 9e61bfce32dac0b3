import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Referral numbers per organization, step 1: the column (empty for now) and each organization's counter."""

    dependencies = [
        ("clinics", "0007_organization_holds_identity_only"),
        ("referrals", "0011_referral_export"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReferralCounter",
            fields=[
                (
                    "organization",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="referral_counter",
                        serialize=False,
                        to="clinics.organization",
                    ),
                ),
                ("last_number", models.PositiveIntegerField(default=0)),
            ],
        ),
        migrations.AddField(
            model_name="referral",
            name="number",
            field=models.PositiveIntegerField(editable=False, null=True),
        ),
    ]
