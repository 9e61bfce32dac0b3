"""Each referral's typed totals become one dated row each, marked migrated, so no figure changes.

The date is the day of the referral's last status change (in its clinic's
zone), else the day it was received: the totals were typed while care went
on, and the last move (often the discharge) is the latest day they can speak
for. The visit row stands for all the visits the total counted
(`visit_count`); the collected total becomes one payer payment from the
referral's payer. The derived columns are left as they are: they equal the
sums of these rows by construction.
"""

from zoneinfo import ZoneInfo

from django.db import migrations
from django.db.models import Max, Q

BATCH = 1000


def dated_rows_from_totals(apps, schema_editor):
    Referral = apps.get_model("referrals", "Referral")
    Visit = apps.get_model("billing", "Visit")
    Payment = apps.get_model("billing", "Payment")
    referrals = (
        Referral.objects.filter(~Q(visits_attended=0) | ~Q(billed_amount=0) | ~Q(collected_amount=0))
        .annotate(last_change=Max("status_changes__changed_at"))
        .select_related("clinic")
        .order_by("pk")
    )
    visits, payments = [], []
    for referral in referrals.iterator(chunk_size=BATCH):
        moment = referral.last_change or referral.received_at
        day = moment.astimezone(ZoneInfo(referral.clinic.timezone)).date()
        common = {"organization_id": referral.organization_id, "referral_id": referral.pk, "source": "migrated"}
        if referral.visits_attended or referral.billed_amount:
            visits.append(
                Visit(
                    **common,
                    service_date=day,
                    clinic_id=referral.clinic_id,
                    therapist_id=referral.therapist_id,
                    payer_id=referral.payer_id,
                    billed_amount=referral.billed_amount,
                    visit_count=referral.visits_attended,
                )
            )
        if referral.collected_amount:
            payments.append(
                Payment(
                    **common,
                    paid_on=day,
                    amount=referral.collected_amount,
                    kind="payer",
                    payer_id=referral.payer_id,
                )
            )
        if len(visits) >= BATCH or len(payments) >= BATCH:
            Visit.objects.bulk_create(visits)
            Payment.objects.bulk_create(payments)
            visits, payments = [], []
    Visit.objects.bulk_create(visits)
    Payment.objects.bulk_create(payments)


def remove_migrated_rows(apps, schema_editor):
    apps.get_model("billing", "Visit").objects.filter(source="migrated").delete()
    apps.get_model("billing", "Payment").objects.filter(source="migrated").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        ("referrals", "0017_referral_patient_account_number"),
    ]

    operations = [migrations.RunPython(dated_rows_from_totals, remove_migrated_rows)]
