from django.db import migrations, models


class Migration(migrations.Migration):
    """Referral numbers per organization, step 3: every referral has one, never shared within its organization."""

    dependencies = [("referrals", "0013_number_existing_referrals")]

    operations = [
        migrations.AlterField(
            model_name="referral",
            name="number",
            field=models.PositiveIntegerField(editable=False),
        ),
        migrations.AddConstraint(
            model_name="referral",
            constraint=models.UniqueConstraint(
                fields=("organization", "number"), name="referrals_number_unique_per_org"
            ),
        ),
    ]
