import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


def copy_from_organizations(apps, schema_editor):
    """The tier cadences move from Organization's columns to one settings row each."""
    Organization = apps.get_model("clinics", "Organization")
    OutreachSettings = apps.get_model("outreach", "OutreachSettings")
    OutreachSettings.objects.bulk_create(
        OutreachSettings(
            organization_id=organization.pk,
            cadence_tier_a_days=organization.cadence_tier_a_days,
            cadence_tier_b_days=organization.cadence_tier_b_days,
            cadence_tier_c_days=organization.cadence_tier_c_days,
        )
        for organization in Organization.objects.only(
            "pk", "cadence_tier_a_days", "cadence_tier_b_days", "cadence_tier_c_days"
        )
    )


def copy_back_to_organizations(apps, schema_editor):
    Organization = apps.get_model("clinics", "Organization")
    for cadences in apps.get_model("outreach", "OutreachSettings").objects.all():
        Organization.objects.filter(pk=cadences.organization_id).update(
            cadence_tier_a_days=cadences.cadence_tier_a_days,
            cadence_tier_b_days=cadences.cadence_tier_b_days,
            cadence_tier_c_days=cadences.cadence_tier_c_days,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("clinics", "0005_contact_cadence"),
        ("outreach", "0004_touch_announcement_moves_out"),
    ]

    operations = [
        migrations.CreateModel(
            name="OutreachSettings",
            fields=[
                (
                    "organization",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="outreach_settings",
                        serialize=False,
                        to="clinics.organization",
                    ),
                ),
                (
                    "cadence_tier_a_days",
                    models.PositiveSmallIntegerField(
                        default=14,
                        validators=[django.core.validators.MinValueValidator(1)],
                        verbose_name="contact tier A sources every (days)",
                    ),
                ),
                (
                    "cadence_tier_b_days",
                    models.PositiveSmallIntegerField(
                        default=30,
                        validators=[django.core.validators.MinValueValidator(1)],
                        verbose_name="contact tier B sources every (days)",
                    ),
                ),
                (
                    "cadence_tier_c_days",
                    models.PositiveSmallIntegerField(
                        default=60,
                        validators=[django.core.validators.MinValueValidator(1)],
                        verbose_name="contact tier C sources every (days)",
                    ),
                ),
            ],
            options={
                "verbose_name": "outreach settings",
                "verbose_name_plural": "outreach settings",
            },
        ),
        migrations.RunPython(copy_from_organizations, copy_back_to_organizations),
    ]
