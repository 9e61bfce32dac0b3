"""Charge lines: an imported visit becomes one referral's day at one clinic, with the report's lines under it.

Before, each line of a charge report was a visit, so a report listing a
visit once per CPT code counted it once per code. Each imported visit now
becomes a charge line (its key, fingerprint, codes, amount and payer as
imported) under the visit of its referral, day and clinic; imported visits
of the same referral, day and clinic are merged into the first of them, its
billed amount the sum of theirs and its codes theirs in order, and the
referrals' visit counts are recomputed. Typed and migrated visits have no
lines and do not change. Visits and payments lose the index of their
organization alone: their other indexes lead with it.
"""

import django.db.models.deletion
from decimal import Decimal
from itertools import groupby

from django.db import migrations, models
from django.db.models import IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

BATCH = 2000


def _key(visit) -> tuple:
    return (visit.organization_id, visit.referral_id, visit.service_date, visit.clinic_id)


def lines_from_imported_visits(apps, schema_editor):
    Visit = apps.get_model("billing", "Visit")
    ChargeLine = apps.get_model("billing", "ChargeLine")
    Referral = apps.get_model("referrals", "Referral")
    imported = Visit.objects.filter(source="imported").order_by(
        "organization_id", "referral_id", "service_date", "clinic_id", "pk"
    )
    lines, kept, merged, referral_ids = [], [], [], set()

    def flush():
        ChargeLine.objects.bulk_create(lines)
        Visit.objects.bulk_update(kept, ["row_key", "procedure_codes", "billed_amount", "payer"])
        Visit.objects.filter(pk__in=merged).delete()
        lines.clear(), kept.clear(), merged.clear()

    for (organization_id, referral_id, day, clinic_id), group in groupby(imported.iterator(BATCH), key=_key):
        visits = list(group)
        first = visits[0]
        for visit in visits:
            lines.append(
                ChargeLine(
                    organization_id=organization_id,
                    visit=first,
                    row_key=visit.row_key,
                    row_fingerprint=visit.row_fingerprint,
                    service_date=day,
                    clinic_id=clinic_id,
                    procedure_codes=visit.procedure_codes,
                    billed_amount=visit.billed_amount,
                    payer_id=visit.payer_id,
                )
            )
        first.row_key = f"visit:{referral_id}:{day.isoformat()}:{clinic_id}"
        first.procedure_codes = [code for visit in visits for code in visit.procedure_codes]
        first.billed_amount = sum((visit.billed_amount for visit in visits), Decimal(0))
        first.payer_id = next((visit.payer_id for visit in visits if visit.payer_id), None)
        kept.append(first)
        if len(visits) > 1:
            merged.extend(visit.pk for visit in visits[1:])
            referral_ids.add(referral_id)
        if len(lines) >= BATCH:
            flush()
    flush()
    counts = (
        Visit.objects.filter(referral=OuterRef("pk"))
        .order_by()
        .values("referral")
        .annotate(total=Sum("visit_count"))
        .values("total")
    )
    ids = sorted(referral_ids)
    for start in range(0, len(ids), BATCH):
        Referral.objects.filter(pk__in=ids[start : start + BATCH]).update(
            visits_attended=Coalesce(Subquery(counts), Value(0), output_field=IntegerField())
        )
    _check_now(schema_editor)


def _check_now(schema_editor):
    """Checks the rows' foreign keys now: PostgreSQL alters no table (the next operations) with checks pending."""
    schema_editor.connection.check_constraints(table_names=["billing_visit", "billing_chargeline"])


def visits_from_charge_lines(apps, schema_editor):
    """Back to one visit per imported line: the first line's in its visit, the others in new visits."""
    Visit = apps.get_model("billing", "Visit")
    ChargeLine = apps.get_model("billing", "ChargeLine")
    Referral = apps.get_model("referrals", "Referral")
    referral_ids = set()
    lines = ChargeLine.objects.select_related("visit").order_by("visit_id", "pk")
    for _, group in groupby(lines.iterator(BATCH), key=lambda line: line.visit_id):
        for index, line in enumerate(group):
            visit = line.visit
            if index:
                visit.pk = None
                visit._state.adding = True
                referral_ids.add(visit.referral_id)
            visit.row_key = line.row_key
            visit.row_fingerprint = line.row_fingerprint
            visit.service_date = line.service_date
            visit.clinic_id = line.clinic_id
            visit.procedure_codes = line.procedure_codes
            visit.billed_amount = line.billed_amount
            visit.payer_id = line.payer_id
            visit.save()
    ids = sorted(referral_ids)
    counts = (
        Visit.objects.filter(referral=OuterRef("pk"))
        .order_by()
        .values("referral")
        .annotate(total=Sum("visit_count"))
        .values("total")
    )
    for start in range(0, len(ids), BATCH):
        Referral.objects.filter(pk__in=ids[start : start + BATCH]).update(
            visits_attended=Coalesce(Subquery(counts), Value(0), output_field=IntegerField())
        )
    _check_now(schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0003_import_mappings_and_review'),
        ('clinics', '0008_clinic_phone_e164'),
        ('referrals', '0017_referral_patient_account_number'),
    ]

    operations = [
        migrations.AddField(
            model_name='billingimport',
            name='visits_created_count',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.CreateModel(
            name='ChargeLine',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('row_key', models.CharField(max_length=80)),
                ('row_fingerprint', models.CharField(max_length=64)),
                ('service_date', models.DateField(verbose_name='date of service')),
                ('procedure_codes', models.JSONField(blank=True, default=list, verbose_name='CPT/HCPCS codes')),
                ('billed_amount', models.DecimalField(decimal_places=2, default=Decimal('0'), max_digits=10, verbose_name='billed')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('clinic', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='clinics.clinic')),
                ('organization', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='clinics.organization')),
                ('payer', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='clinics.payer')),
                ('visit', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='lines', to='billing.visit')),
            ],
            options={
                'ordering': ['visit', 'pk'],
                'constraints': [models.UniqueConstraint(fields=('organization', 'row_key'), name='billing_line_unique_key')],
            },
        ),
        migrations.RunPython(lines_from_imported_visits, visits_from_charge_lines),
        migrations.RemoveField(
            model_name='visit',
            name='row_fingerprint',
        ),
        # Their composite indexes lead with the organization; one of it alone only slowed imports.
        migrations.AlterField(
            model_name='payment',
            name='organization',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='clinics.organization'),
        ),
        migrations.AlterField(
            model_name='visit',
            name='organization',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='clinics.organization'),
        ),
    ]
