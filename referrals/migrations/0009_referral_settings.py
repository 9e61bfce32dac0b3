import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


def copy_from_organizations(apps, schema_editor):
    """The referral rules move from Organization's columns to one settings row each."""
    Organization = apps.get_model("clinics", "Organization")
    ReferralSettings = apps.get_model("referrals", "ReferralSettings")
    ReferralSettings.objects.bulk_create(
        ReferralSettings(
            organization_id=organization.pk,
            contact_sla_business_days=organization.contact_sla_business_days,
            poc_signature_days=organization.poc_signature_days,
            poc_certification_days=organization.poc_certification_days,
        )
        for organization in Organization.objects.only(
            "pk", "contact_sla_business_days", "poc_signature_days", "poc_certification_days"
        )
    )


def copy_back_to_organizations(apps, schema_editor):
    Organization = apps.get_model("clinics", "Organization")
    for rules in apps.get_model("referrals", "ReferralSettings").objects.all():
        Organization.objects.filter(pk=rules.organization_id).update(
            contact_sla_business_days=rules.contact_sla_business_days,
            poc_signature_days=rules.poc_signature_days,
            poc_certification_days=rules.poc_certification_days,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("clinics", "0005_contact_cadence"),
        ("referrals", "0008_referral_attribution_at_intake"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReferralSettings",
            fields=[
                (
                    "organization",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="referral_settings",
                        serialize=False,
                        to="clinics.organization",
                    ),
                ),
                (
                    "contact_sla_business_days",
                    models.PositiveSmallIntegerField(
                        default=1,
                        help_text="A received referral not contacted within this many business days is highlighted.",
                        validators=[django.core.validators.MinValueValidator(1)],
                        verbose_name="contact new referrals within (business days)",
                    ),
                ),
                (
                    "poc_signature_days",
                    models.PositiveSmallIntegerField(
                        default=30,
                        validators=[django.core.validators.MinValueValidator(1)],
                        verbose_name="plan of care signed within (days of the evaluation)",
                    ),
                ),
                (
                    "poc_certification_days",
                    models.PositiveSmallIntegerField(
                        default=90,
                        validators=[django.core.validators.MinValueValidator(1)],
                        verbose_name="a certification lasts at most (days)",
                    ),
                ),
            ],
            options={
                "verbose_name": "referral settings",
                "verbose_name_plural": "referral settings",
            },
        ),
        migrations.RunPython(copy_from_organizations, copy_back_to_organizations),
    ]
