"""Which tables the organization data export writes: each app registers its own.

Clinics is the lowest tenant app, so the registry lives here; each app
declares its tables in its `export_tables.py`, which clinics' AppConfig.ready
loads with `autodiscover_modules("export_tables")`. A table's columns are its
model's concrete fields (a foreign key as its id), less `exclude_fields`,
plus any `extra_columns` read across a relation (a membership's user's name).
Every model with an `organization` foreign key is either registered or
excluded with a reason; tests/clinics/test_organization_export.py holds
every app to that, so a new model cannot be left out by forgetting it.

Secrets never leave: a file field (a path in storage) or a field whose name
says token, password or secret must be named in `exclude_fields`, or
`register` refuses the table.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from django.db import models
from django.db.models import QuerySet

from ..models import Organization

SECRET_WORDS = ("token", "password", "secret")


@dataclass(frozen=True)
class ExportColumn:
    header: str
    # As `QuerySet.values_list()` names it: "clinic_id", "user__email".
    lookup: str
    description: str
    # The model field the column is read from (across relations, the last one).
    field: models.Field

    @property
    def is_secret(self) -> bool:
        """A file's path in storage, or a field named as a secret: never exported."""
        name = self.field.name.lower()
        return isinstance(self.field, models.FileField) or any(word in name for word in SECRET_WORDS)


@dataclass(frozen=True)
class ExportTable:
    # The CSV's name in the ZIP, without ".csv"; unique.
    name: str
    model: type[models.Model]
    description: str
    columns: tuple[ExportColumn, ...]
    # `rows(organization)`: the organization's rows, and no one else's.
    rows: Callable[[Organization], QuerySet]
    # Models whose ids this table's columns explain ({User: "user_id"}: staff.csv says who a user is).
    identifies: Mapping[type[models.Model], str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExcludedModel:
    model: type[models.Model]
    reason: str

    @property
    def label(self) -> str:
        name = str(self.model._meta.verbose_name_plural)
        return name[:1].upper() + name[1:]


_tables: dict[str, ExportTable] = {}
_excluded: dict[type[models.Model], ExcludedModel] = {}


def register(
    model: type[models.Model],
    *,
    name: str,
    description: str,
    exclude_fields: Iterable[str] = (),
    extra_columns: Iterable[str] = (),
    queryset: Callable[[Organization], QuerySet] | None = None,
    identifies: Mapping[type[models.Model], str] | None = None,
) -> ExportTable:
    """Adds `model` to the export as `name`.csv; registering the same name again replaces it.

    `queryset(organization)` picks the rows when the model has no
    `organization` field of its own (a many-to-many table, the organization
    itself); by default it is the rows whose `organization` is the one exported.
    """
    excluded = set(exclude_fields)
    fields = {field.name: field for field in model._meta.concrete_fields}
    if unknown := excluded - fields.keys():
        raise ValueError(f"{model._meta.label} has no fields {sorted(unknown)} to exclude")
    columns = [_field_column(field) for field in fields.values() if field.name not in excluded]
    columns += [_related_column(model, lookup) for lookup in extra_columns]
    if secret := [column.lookup for column in columns if column.is_secret]:
        raise ValueError(
            f"{model._meta.label} would export {secret}: files and secrets are never exported; "
            "name them in exclude_fields"
        )
    if queryset is None:
        if "organization" not in fields:
            raise ValueError(f"{model._meta.label} has no organization field: give its queryset")

        def queryset(organization: Organization) -> QuerySet:
            return model._default_manager.filter(organization=organization)

    table = ExportTable(
        name=name,
        model=model,
        description=description,
        columns=tuple(columns),
        rows=queryset,
        identifies=identifies or {},
    )
    _tables[name] = table
    return table


def exclude(model: type[models.Model], *, reason: str) -> None:
    """Leaves `model` out of the export, for `reason`, which the README of every export states."""
    _excluded[model] = ExcludedModel(model=model, reason=reason)


def export_tables() -> list[ExportTable]:
    return list(_tables.values())


def id_pointers() -> dict[type[models.Model], str]:
    """Where the README sends a reader to look an id up: "referrals.csv", "user_id in staff.csv"."""
    pointers = {table.model: f"{table.name}.csv" for table in _tables.values()}
    for table in _tables.values():
        pointers |= {model: f"{column} in {table.name}.csv" for model, column in table.identifies.items()}
    return pointers


def excluded_models() -> list[ExcludedModel]:
    return list(_excluded.values())


def _field_column(field: models.Field) -> ExportColumn:
    return ExportColumn(header=field.attname, lookup=field.attname, description=_describe(field), field=field)


def _related_column(model: type[models.Model], lookup: str) -> ExportColumn:
    """A column read across relations: "user__email" is the email of the row's user."""
    *path, last = lookup.split("__")
    current: type[models.Model] = model
    for step in path:
        related = current._meta.get_field(step).related_model
        if not isinstance(related, type):
            raise ValueError(f"{model._meta.label}: {lookup} does not follow a relation")
        current = related
    field = current._meta.get_field(last)
    if not isinstance(field, models.Field):
        raise ValueError(f"{model._meta.label}: {lookup} does not end at a field")
    description = _describe(field)
    return ExportColumn(
        header="_".join([*path, last]),
        lookup=lookup,
        description=f"The {' '.join(path).replace('_', ' ')}'s {description[:1].lower()}{description[1:]}",
        field=field,
    )


def _describe(field: models.Field) -> str:
    """The column's meaning for the README: its label, help text, what an id points to, the values."""
    text = str(field.verbose_name)
    text = text[:1].upper() + text[1:]
    if field.primary_key and not field.is_relation:
        text = "Id"
    if field.help_text:
        text += f". {field.help_text}"
    if field.choices and not field.is_relation:
        text += ". Values: " + "; ".join(f"{value} ({label})" for value, label in field.flatchoices)
    return text
