from django.db import migrations

# Each app now keeps its own settings (referrals.ReferralSettings,
# outreach.OutreachSettings); their migrations copied these columns first.
MOVED = (
    "contact_sla_business_days",
    "poc_signature_days",
    "poc_certification_days",
    "cadence_tier_a_days",
    "cadence_tier_b_days",
    "cadence_tier_c_days",
)


class Migration(migrations.Migration):
    dependencies = [
        ("clinics", "0006_organization_and_person_time_zones"),
        ("referrals", "0009_referral_settings"),
        ("outreach", "0005_outreach_settings"),
    ]

    operations = [migrations.RemoveField(model_name="organization", name=name) for name in MOVED]
