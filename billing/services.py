"""Writes of visits and payments, and the referral totals derived from them.

A referral's `visits_attended`, `billed_amount` and `collected_amount` are
the sums of its rows. Every write here (add, change, remove, import,
review) locks the referrals it touches, writes the rows, then calls
`referral_totals_recompute` for them in the same transaction: the totals are
one SQL aggregate away from the rows and never typed, and the apps that keep
figures built on those totals hear of it there (`register_referral_totals_changed`).
"""

import csv
import dataclasses
import io
import json
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import DecimalField, Field, IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from clinics.inputs import ModelFields
from clinics.models import Clinic, Membership, Organization, Payer
from clinics.roles import acts_as
from referrals.models import Referral
from referrals.roles import CARE

from .models import (
    COLLECTED_KINDS,
    BillingCorrection,
    CorrectionAction,
    Payment,
    PaymentKind,
    RowSource,
    Visit,
)

RECOMPUTE_BATCH = 1000

# Apps above keep figures built on a referral's totals (analytics' rollups) and
# must bring them in step in the same transaction, without this app importing
# them: they register when they load. A hook takes the ids of the referrals
# whose totals were just recomputed and runs inside the writing transaction.
TotalsChangedHook = Callable[[Sequence[int]], None]
_totals_changed_hooks: list[TotalsChangedHook] = []


def register_referral_totals_changed(hook: TotalsChangedHook) -> TotalsChangedHook:
    """Calls `hook(referral_ids)` after every recomputation of referrals' totals, in its transaction."""
    if hook not in _totals_changed_hooks:
        _totals_changed_hooks.append(hook)
    return hook


def referral_totals_recompute(*, referral_ids: Iterable[int]) -> None:
    """Sets each referral's visit count and billed and collected totals to the sums of its rows.

    One UPDATE per 1,000 referrals, the sums computed by the database. The
    caller holds the referrals' locks (`referrals_lock`), so a concurrent
    write waits and then sums rows that include this one's.
    """
    ids = sorted(set(referral_ids))
    for start in range(0, len(ids), RECOMPUTE_BATCH):
        referral_totals_recompute_where(
            referrals=Referral.objects.filter(pk__in=ids[start : start + RECOMPUTE_BATCH])
        )


def referral_totals_recompute_where(*, referrals: QuerySet[Referral]) -> None:
    """`referral_totals_recompute` for the referrals a query selects, in one UPDATE (an import's many)."""

    def total(
        queryset: QuerySet[Visit] | QuerySet[Payment], column: str, output: "Field[Any, Any]"
    ) -> Coalesce:
        return Coalesce(
            Subquery(
                queryset.filter(referral=OuterRef("pk"))
                .order_by()
                .values("referral")
                .annotate(total=Sum(column))
                .values("total")
            ),
            Value(0, output_field=output),
            output_field=output,
        )

    money = DecimalField(max_digits=10, decimal_places=2)
    referrals.update(
        visits_attended=total(Visit.objects.all(), "visit_count", IntegerField()),
        billed_amount=total(Visit.objects.all(), "billed_amount", money),
        collected_amount=total(Payment.objects.filter(kind__in=COLLECTED_KINDS), "amount", money),
    )
    if _totals_changed_hooks:
        changed = list(referrals.order_by("pk").values_list("pk", flat=True))
        for hook in _totals_changed_hooks:
            hook(changed)


def referrals_lock(referral_ids: Collection[int]) -> None:
    """Locks the referrals whose totals are about to change, in id order (no two writers wait in a circle)."""
    list(Referral.objects.select_for_update().filter(pk__in=sorted(set(referral_ids))).values_list("pk"))


def _require_care(acting: Membership, referral: Referral) -> None:
    if not acts_as(acting, CARE, organization_id=referral.organization_id):
        raise PermissionDenied("Only therapists and admins record visits and payments.")


@dataclass(frozen=True, kw_only=True)
class VisitFields(ModelFields):
    service_date: date
    clinic: Clinic
    therapist: User | None = None
    procedure_codes: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    billed_amount: Decimal = Decimal(0)
    payer: Payer | None = None


@dataclass(frozen=True, kw_only=True)
class PaymentFields(ModelFields):
    paid_on: date
    amount: Decimal
    kind: str = PaymentKind.PAYER
    payer: Payer | None = None
    reference: str = ""


def _as_text(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(
            f"{item['code']}x{item['units']}" if item.get("units") else item["code"] for item in value
        )
    return "" if value is None else str(value)


def _snapshot(row: Visit | Payment, names: Iterable[str]) -> dict[str, str]:
    """The row's values as text, related rows by their name: what a correction shows."""
    return {name: _as_text(getattr(row, name)) for name in names}


def _record(
    *, row: Visit | Payment, acting: Membership, action: str, changes: dict[str, list[str]]
) -> BillingCorrection:
    return BillingCorrection.objects.create(
        organization_id=row.organization_id,
        referral_id=row.referral_id,
        row_kind="visit" if isinstance(row, Visit) else "payment",
        row_id=row.pk,
        row_key=row.row_key,
        action=action,
        changes=changes,
        corrected_by=acting.user,
        corrected_at=timezone.now(),
    )


def _save_by_hand[Row: (Visit, Payment)](
    *, acting: Membership, row: Row, fields: VisitFields | PaymentFields
) -> Row:
    """Adds or changes one row as typed, records the correction, and brings its referral's totals in step."""
    _require_care(acting, row.referral)
    adding = row.pk is None
    referrals_lock([row.referral_id])
    names = fields.names()
    before = {} if adding else _snapshot(type(row).objects.get(pk=row.pk), names)
    fields.assign_to(row)
    if adding:
        row.created_by = acting.user
    row.full_clean()
    row.save()
    after = _snapshot(row, names)
    changes = {
        name: [before.get(name, ""), after[name]] for name in names if before.get(name, "") != after[name]
    }
    if changes or adding:
        _record(
            row=row,
            acting=acting,
            action=CorrectionAction.ADDED if adding else CorrectionAction.CHANGED,
            changes=changes,
        )
    referral_totals_recompute(referral_ids=[row.referral_id])
    return row


@transaction.atomic
def visit_save(
    *, acting: Membership, referral: Referral, visit: Visit | None = None, fields: VisitFields
) -> Visit:
    """Records a visit by hand, or corrects one (typed or imported); who and when are kept."""
    visit = visit or Visit(
        organization_id=referral.organization_id, referral=referral, source=RowSource.TYPED
    )
    if visit.referral_id != referral.pk:
        raise PermissionDenied("That visit belongs to another referral.")
    return _save_by_hand(acting=acting, row=visit, fields=fields)


@transaction.atomic
def payment_save(
    *, acting: Membership, referral: Referral, payment: Payment | None = None, fields: PaymentFields
) -> Payment:
    """Records a payment or adjustment by hand, or corrects one (typed or imported); who and when are kept."""
    payment = payment or Payment(
        organization_id=referral.organization_id, referral=referral, source=RowSource.TYPED
    )
    if payment.referral_id != referral.pk:
        raise PermissionDenied("That payment belongs to another referral.")
    return _save_by_hand(acting=acting, row=payment, fields=fields)


@transaction.atomic
def billing_row_remove(*, acting: Membership, row: Visit | Payment) -> None:
    """Removes a visit or payment; the correction keeps what it was (an imported one stays out of reruns)."""
    _require_care(acting, row.referral)
    referrals_lock([row.referral_id])
    names = (VisitFields if isinstance(row, Visit) else PaymentFields).names()
    _record(
        row=row,
        acting=acting,
        action=CorrectionAction.REMOVED,
        changes={name: [value, ""] for name, value in _snapshot(row, names).items()},
    )
    row.delete()
    referral_totals_recompute(referral_ids=[row.referral_id])


def _check_owned(
    organization_id: int,
    visits: Sequence[tuple[Referral, VisitFields]],
    payments: Sequence[tuple[Referral, PaymentFields]],
) -> None:
    """Refuses rows naming another organization's referrals, clinics or payers (a query per kind)."""
    referral_ids = {referral.pk for referral, _ in [*visits, *payments]}
    clinic_ids = {fields.clinic.pk for _, fields in visits}
    payers = [fields.payer for _, fields in visits] + [fields.payer for _, fields in payments]
    payer_ids = {payer.pk for payer in payers if payer is not None}
    foreign = (
        Referral.objects.filter(pk__in=referral_ids).exclude(organization_id=organization_id).exists()
        or Clinic.objects.filter(pk__in=clinic_ids).exclude(organization_id=organization_id).exists()
        or Payer.objects.filter(pk__in=payer_ids).exclude(organization_id=organization_id).exists()
    )
    if foreign:
        raise ValidationError("A visit or payment names another organization's records.")


def _check_values(model: type[Visit] | type[Payment], rows: Sequence[VisitFields | PaymentFields]) -> None:
    """Validates each field's value as the model field does, once per distinct value (rows repeat them)."""
    if not rows:
        return
    for name in rows[0].names():
        field = model._meta.get_field(name)
        if not isinstance(field, Field) or field.is_relation:
            continue  # `_check_owned` checks them, for all rows at once
        checked: set[object] = set()
        for number, fields in enumerate(rows, start=1):
            value = getattr(fields, name)
            # A list (the codes) is known by its identity: every row holds its own alive until the end.
            key = id(value) if isinstance(value, list) else value
            if key in checked:
                continue
            try:
                field.clean(value, None)
            except ValidationError as error:
                raise ValidationError(
                    f"Row {number}: {field.verbose_name}: {'; '.join(error.messages)}"
                ) from error
            checked.add(key)


def _insert(model: type[Visit] | type[Payment], rows: list[dict[str, Any]]) -> None:
    """Inserts rows ({attribute: value, as the database takes it}) in one statement: COPY on PostgreSQL.

    Building a model instance a row cost more than the database's own work.
    """
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    column = {field.attname: field.column or field.attname for field in model._meta.concrete_fields}
    names = ", ".join(quote(column[name]) for name in rows[0])
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            buffer = io.StringIO()
            # Only None is left unquoted, which COPY's CSV format reads as NULL; "" stays an empty string.
            csv.writer(buffer, quoting=csv.QUOTE_NOTNULL).writerows(row.values() for row in rows)
            buffer.seek(0)
            cursor.cursor.copy_expert(f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)", buffer)
        else:
            marks = ", ".join(["%s"] * len(rows[0]))
            cursor.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({marks})",  # noqa: S608 (the model's own names)
                [tuple(row.values()) for row in rows],
            )


@transaction.atomic
def billing_rows_create_bulk(
    *,
    organization: Organization,
    visits: Sequence[tuple[Referral, VisitFields]],
    payments: Sequence[tuple[Referral, PaymentFields]],
) -> None:
    """Records many visits and payments at once, as typed (the demo), with the invariants of `visit_save`.

    1. Every referral, clinic and payer the rows name must be the
       organization's (`_check_owned`, a query per kind for all the rows); each
       field's value is validated as its model field validates it, once per
       distinct value (`_check_values`). Any refusal raises ValidationError
       and nothing is saved.
    2. The referrals are locked in id order, the rows inserted in one
       statement per table (`_insert`), then the referrals' totals recomputed
       from all their rows.
    """
    _check_owned(organization.pk, visits, payments)
    _check_values(Visit, [fields for _, fields in visits])
    _check_values(Payment, [fields for _, fields in payments])
    referral_ids = {referral.pk for referral, _ in [*visits, *payments]}
    referrals_lock(referral_ids)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    common = {"organization_id": organization.pk, "source": RowSource.TYPED, "row_key": ""}
    stamps = {"created_at": now, "updated_at": now}
    _insert(
        Visit,
        [
            {
                **common,
                **stamps,
                "referral_id": referral.pk,
                "service_date": fields.service_date,
                "clinic_id": fields.clinic.pk,
                "therapist_id": fields.therapist.pk if fields.therapist else None,
                "procedure_codes": json.dumps(fields.procedure_codes),
                "billed_amount": fields.billed_amount,
                "payer_id": fields.payer.pk if fields.payer else None,
                "visit_count": 1,
            }
            for referral, fields in visits
        ],
    )
    _insert(
        Payment,
        [
            {
                **common,
                **stamps,
                "row_fingerprint": "",
                "referral_id": referral.pk,
                "paid_on": fields.paid_on,
                "amount": fields.amount,
                "kind": fields.kind,
                "payer_id": fields.payer.pk if fields.payer else None,
                "reference": fields.reference,
            }
            for referral, fields in payments
        ],
    )
    referral_totals_recompute(referral_ids=referral_ids)
