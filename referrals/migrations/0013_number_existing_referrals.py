from django.db import migrations

BATCH = 1000


def number_existing_referrals(apps, schema_editor):
    """Numbers each organization's referrals 1, 2, 3… in the order they were received, and sets its counter.

    Ties on the time received go by id, the order they were typed in.
    """
    Referral = apps.get_model("referrals", "Referral")
    ReferralCounter = apps.get_model("referrals", "ReferralCounter")
    counts: dict[int, int] = {}
    batch = []
    for referral in Referral.objects.order_by("organization_id", "received_at", "pk").only(
        "pk", "organization_id"
    ).iterator(chunk_size=BATCH):
        counts[referral.organization_id] = counts.get(referral.organization_id, 0) + 1
        referral.number = counts[referral.organization_id]
        batch.append(referral)
        if len(batch) == BATCH:
            Referral.objects.bulk_update(batch, ["number"])
            batch = []
    Referral.objects.bulk_update(batch, ["number"])
    ReferralCounter.objects.bulk_create(
        ReferralCounter(organization_id=organization_id, last_number=count)
        for organization_id, count in counts.items()
    )


def forget_numbers(apps, schema_editor):
    apps.get_model("referrals", "ReferralCounter").objects.all().delete()
    apps.get_model("referrals", "Referral").objects.update(number=None)


class Migration(migrations.Migration):
    dependencies = [("referrals", "0012_referral_number")]

    operations = [migrations.RunPython(number_existing_referrals, forget_numbers)]
