"""Change history of records: who changed which field, from what, to what, and when.

django-simple-history keeps a historical row per save of a tracked model
(`history = TenantHistoricalRecords()` on it); this module adds the two
things Rapport needs on top:

1. `TenantHistoricalRecords` keeps historical tables tenant-owned like every
   other table: `organization` is copied non-null (the package makes every
   copied foreign key nullable) and stays indexed, and fields no person
   edits (derived totals, auto timestamps, the edit counter) are not copied,
   so a recompute never shows as a change.
2. `change_history` reads the rows of one or more record sets (a referral
   and its plans of care, a practice and its gatekeepers) for one
   organization and turns consecutive rows into lines — field, old → new,
   who, when — in one query per record set plus one per kind of related
   record named in the changes, however many rows there are.

Writes that bypass `save()` (QuerySet.update, bulk_create) record their rows
themselves with `history_record_bulk`, where they change what a person sees.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import models
from django.utils import formats, timezone
from django.utils.text import Truncator
from simple_history.models import HistoricalChanges, HistoricalRecords, registered_models

from accounts.models import User

from .phones import PhoneField, phone_display

if TYPE_CHECKING:
    # Only named in signatures: clinics.models itself uses TenantHistoricalRecords.
    from .models import Organization

# The most lines a page shows; older ones are counted, not listed.
HISTORY_LIMIT = 100
NO_VALUE = "—"
LONG_TEXT = 80
ACTIONS = {"+": "created", "~": "changed", "-": "deleted"}


class TenantHistoricalRecords(HistoricalRecords):
    """HistoricalRecords whose tables carry a non-null, indexed `organization`.

    `excluded_fields` adds to the fields left out anyway: those no form edits
    (`editable=False`) and automatic timestamps, which the historical row's own
    date already tells.
    """

    def fields_included(self, model: type[models.Model]) -> list[models.Field]:
        return [
            field
            for field in super().fields_included(model)
            if field.primary_key
            or field.name == "organization"
            or (
                field.editable
                and not getattr(field, "auto_now", False)
                and not getattr(field, "auto_now_add", False)
            )
        ]

    def copy_fields(self, model: type[models.Model]) -> dict[str, models.Field]:
        fields = super().copy_fields(model)
        # Every row of a tenant's record belongs to that tenant: the copied
        # key must not be nullable, as on the record itself.
        fields["organization"].null = False
        fields["organization"].blank = False
        return fields


def is_tracked(model: type[models.Model]) -> bool:
    """Whether `model` keeps a change history."""
    return registered_models.get(model._meta.db_table) is model


def is_history_model(model: type[models.Model]) -> bool:
    """Whether `model` is a historical table, whose rows are never rewritten."""
    return issubclass(model, HistoricalChanges)


def history_record_bulk(
    objs: Sequence[models.Model],
    *,
    user: User | None = None,
    created: bool = False,
    when: datetime | None = None,
) -> None:
    """Writes one historical row per object, in one INSERT, for writes that bypass `save()`.

    The objects must hold their new values. Without `user`, the request's
    signed-in user is named (none in a background job). `when` defaults to now; each
    object's own `_history_date` attribute, when set, wins (bulk intake dates
    the creation rows by when each referral was logged).
    """
    if not objs:
        return
    type(objs[0]).history.bulk_history_create(  # type: ignore[attr-defined]
        objs, update=not created, default_user=user, default_date=when or timezone.now()
    )


@dataclass(frozen=True)
class HistorySource:
    """A set of records whose history a page shows: `model` rows matching `lookup`.

    The lookup names the historical table's columns, e.g. {"id": 7} for one
    referral or {"practice_id": 3} for every gatekeeper a practice ever had,
    deleted ones included. `label` names the records in the lines when a page
    mixes several kinds ("Plan of care"); empty for the page's own record.
    """

    model: type[models.Model]
    lookup: dict[str, Any]
    label: str = ""


@dataclass(frozen=True)
class Change:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    who: str
    action: str
    label: str
    changes: tuple[Change, ...] = ()


@dataclass
class ChangeHistory:
    entries: list[HistoryEntry] = field(default_factory=list)
    # Entries older than the ones listed.
    earlier: int = 0


@dataclass(frozen=True)
class _RawEntry:
    """An entry before its values are put in words: (field, old, new) as stored."""

    row: Any
    label: str
    changes: tuple[tuple[models.Field, Any, Any], ...]


def _who(row: Any) -> str:
    user = row.history_user
    if user is None:
        return "Rapport (automatic)"
    return user.get_full_name() or user.username


def _compared_fields(history_model: type[models.Model]) -> list[models.Field]:
    tracked = history_model.tracked_fields  # type: ignore[attr-defined]
    return [f for f in tracked if not f.primary_key and f.name != "organization"]


def _raw_entries(organization: "Organization", source: HistorySource) -> list[_RawEntry]:
    """One query: the source's rows, oldest first per record, compared each with the one before."""
    history_model = source.model.history.model  # type: ignore[attr-defined]
    pk_name = source.model._meta.pk.attname
    rows = (
        history_model.objects.filter(organization=organization, **source.lookup)
        .select_related("history_user")
        .order_by(pk_name, "history_date", "history_id")
    )
    fields = _compared_fields(history_model)
    entries = []
    previous: Any = None
    for row in rows:
        if previous is not None and getattr(previous, pk_name) != getattr(row, pk_name):
            previous = None
        if row.history_type == "~":
            if previous is None:
                # The first row of a record made before history was kept: the
                # starting point for the next change, not a change itself.
                previous = row
                continue
            changes = tuple(
                (f, old, new)
                for f in fields
                if (old := getattr(previous, f.attname)) != (new := getattr(row, f.attname))
            )
            if changes:
                entries.append(_RawEntry(row, source.label, changes))
        else:
            entries.append(_RawEntry(row, source.label, ()))
        previous = row
    return entries


def _related_labels(
    organization: "Organization", entries: Iterable[_RawEntry]
) -> dict[tuple[type[models.Model], Any], str]:
    """{(model, id): label} for the related records named in changes: one query per related model."""
    wanted: dict[type[models.Model], set[Any]] = defaultdict(set)
    for entry in entries:
        for f, old, new in entry.changes:
            if f.is_relation and isinstance(f.related_model, type):
                wanted[f.related_model] |= {old, new} - {None}
    labels: dict[tuple[type[models.Model], Any], str] = {}
    for related, ids in wanted.items():
        queryset = related._base_manager.filter(pk__in=ids)
        if any(f.name == "organization" for f in related._meta.fields):
            queryset = queryset.filter(organization=organization)
        for obj in queryset:
            text = (obj.get_full_name() or obj.get_username()) if isinstance(obj, User) else str(obj)
            labels[(related, obj.pk)] = text
    return labels


def _shown(f: models.Field, value: Any, labels: dict[tuple[type[models.Model], Any], str]) -> str:
    if value is None or value == "" or value == []:
        return NO_VALUE
    if f.is_relation:
        return labels.get((f.related_model, value), "(removed)")  # type: ignore[arg-type]
    if isinstance(f, PhoneField):
        return phone_display(value)
    if f.choices:
        return str(dict(f.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    if isinstance(value, date):
        return formats.date_format(value, "SHORT_DATE_FORMAT")
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or NO_VALUE
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return Truncator(str(value)).chars(LONG_TEXT)


# builder(record, role) → the records to add, or None for a role that does not see them.
SourceBuilder = Callable[[Any, str], HistorySource | None]
_registered: dict[type[models.Model], list[SourceBuilder]] = defaultdict(list)


def register_history_source(model: type[models.Model], builder: SourceBuilder) -> SourceBuilder:
    """Adds records of a later app to the History of `model`'s pages (a physician's touches).

    `builder(record, role)` names the records, or None where the member's
    role does not see them on the page; the page's own record and what its
    app adds come first.
    """
    if builder not in _registered[model]:
        _registered[model].append(builder)
    return builder


def record_change_history(
    *, organization: "Organization", role: str, record: models.Model, also: Sequence[HistorySource] = ()
) -> ChangeHistory:
    """The History of a record's page: the record, `also` (its own parts) and what later apps registered."""
    model = type(record)
    own = HistorySource(model, {model._meta.pk.attname: record.pk})
    registered = [source for builder in _registered[model] if (source := builder(record, role)) is not None]
    return change_history(organization=organization, sources=[own, *also, *registered])


def change_history(
    *, organization: "Organization", sources: Sequence[HistorySource], limit: int = HISTORY_LIMIT
) -> ChangeHistory:
    """The changes to `sources`' records in `organization`, newest first, at most `limit` entries.

    One query per source, plus one per kind of related record (a clinic, a
    user) that a listed change names.
    """
    raw = sorted(
        (entry for source in sources for entry in _raw_entries(organization, source)),
        key=lambda entry: entry.row.history_date,
        reverse=True,
    )
    shown = raw[:limit]
    labels = _related_labels(organization, shown)
    entries = [
        HistoryEntry(
            at=entry.row.history_date,
            who=_who(entry.row),
            action=ACTIONS[entry.row.history_type],
            label=entry.label,
            changes=tuple(
                Change(str(f.verbose_name).capitalize(), _shown(f, old, labels), _shown(f, new, labels))
                for f, old, new in entry.changes
            ),
        )
        for entry in shown
    ]
    return ChangeHistory(entries=entries, earlier=len(raw) - len(shown))


def history_baseline(apps: Any, schema_editor: Any, *, app_label: str, model_name: str) -> None:
    """Gives every existing `model_name` row its starting historical row, in one INSERT … SELECT.

    For the migration that starts a model's history: without it, the first
    change to a record made before would be only the starting point of its
    History, not a line of it. Reads the migration's state of both tables, so
    it stays correct as the models change later.
    """
    model = apps.get_model(app_label, model_name)
    history = apps.get_model(app_label, f"Historical{model_name}")
    own = {"history_id", "history_date", "history_type", "history_change_reason", "history_user"}
    columns = [f.column for f in history._meta.concrete_fields if f.name not in own]
    quote = schema_editor.quote_name
    names = ", ".join(quote(column) for column in columns)
    schema_editor.execute(
        f"INSERT INTO {quote(history._meta.db_table)} "  # noqa: S608  (names from the model state, quoted)
        f"({names}, {quote('history_date')}, {quote('history_type')}) "
        f"SELECT {names}, %s, '+' FROM {quote(model._meta.db_table)}",
        [timezone.now()],
    )
