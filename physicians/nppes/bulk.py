"""Phase 2 of the NPPES import: writing the kept rows to the directory in bulk SQL.

Reads phase 1's temporary file back in batches and upserts physicians,
practices and affiliations inside one transaction, so a failure halfway leaves
the directory as it was, with a fixed number of queries per batch. The SQL is
written by hand because bulk_create(), bulk_update() and Django's IN lookups
cost more than the database's own work at this size; each function says why.
Only the fields NPPES is the source of are written, never what the clinic
manages.
"""

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from itertools import batched
from typing import IO, Any

from django.db import connection, transaction
from django.db.models import Field, Model
from django.utils import timezone

from clinics.models import Organization

from ..models import Affiliation, Physician, Practice
from ..search import practice_search_text
from .planner import _prefer_index_lookups, _refresh_statistics
from .reading import NPPES_PHYSICIAN_FIELDS, NppesImportResult, _Kept

BATCH_SIZE = 2_000
# SQLite's driver keeps the last 128 statements it compiled; INSERTs of a
# short, repeating length keep that cache small and fast.
ROWS_PER_STATEMENT = 500

PRACTICE_COLUMNS = (
    "name",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "phone",
    "fax",
    "location_key",
    "search_text",
)


def _concrete_field(model: type[Model], name: str) -> "Field[Any, Any]":
    field = model._meta.get_field(name)
    assert isinstance(field, Field), f"{model.__name__}.{name} is a relation, not a column"
    return field


def _column(field: "Field[Any, Any]") -> str:
    assert field.column is not None, f"{field} has no column"
    return field.column


def _batches(rows: IO[str]) -> Iterator[list[_Kept]]:
    rows.seek(0)
    for batch in batched(csv.reader(rows), BATCH_SIZE, strict=False):
        yield [_Kept(*row) for row in batch]


def _insert(
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[Sequence],
    *,
    constants: dict[str, object],
) -> None:
    """Inserts `rows` of `columns` values; other columns get `constants`, else the field's default.

    bulk_create() prepares every value of every object through its field, which
    costs several times the database's own work on this path. Here the values
    in `rows` are already what the database stores (str, int, bool, ids for
    foreign keys), so only the constants are prepared, once; PostgreSQL gets
    them by COPY, which it takes about three times as fast as a long INSERT.
    Like bulk_create(), this skips save().
    """
    if not rows:
        return
    given = [_concrete_field(model, name) for name in columns]
    rest = [field for field in model._meta.concrete_fields if not field.primary_key and field not in given]
    now = timezone.now()

    def constant(field):
        if field.name in constants:
            return constants[field.name]
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            return now
        return field.get_default()

    fixed = tuple(field.get_db_prep_save(constant(field), connection) for field in rest)
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    targets = ", ".join(quote(_column(field)) for field in [*given, *rest])
    with connection.cursor() as cursor:
        copy = getattr(cursor, "copy_expert", None) if connection.vendor == "postgresql" else None
        if copy:
            data = io.StringIO()
            # An unquoted empty field is NULL to COPY, a quoted one the empty string.
            csv.writer(data, quoting=csv.QUOTE_NOTNULL).writerows((*row, *fixed) for row in rows)
            data.seek(0)
            copy(f"COPY {table} ({targets}) FROM STDIN WITH (FORMAT csv)", data)
            return
        row_placeholders = f"({', '.join(['%s'] * (len(given) + len(rest)))})"
        for chunk in batched(rows, ROWS_PER_STATEMENT, strict=False):
            values = ", ".join([row_placeholders] * len(chunk))
            # Identifiers come from the model, quoted; every value is a parameter.
            cursor.execute(
                f"INSERT INTO {table} ({targets}) VALUES {values}",  # noqa: S608
                [value for row in chunk for value in (*row, *fixed)],
            )


def _by_key(
    model: type[Model],
    organization: Organization,
    key: str,
    values: Iterable[str],
    columns: Sequence[str] = ("id",),
) -> list[tuple]:
    """(key, *columns) of the organization's rows whose unique `key` is among `values`.

    In SQL of its own: Django prepares the values of an IN list one by one,
    which costs more than the query on lists this long.
    """
    values = list(values)
    if not values:
        return []
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        return quote(_column(_concrete_field(model, name)))

    targets = ", ".join(column(name) for name in (key, *columns))
    placeholders = ", ".join(["%s"] * len(values))
    # NOT (key = '') repeats the condition of the (organization, key) unique
    # index, without which the database does not use that index.
    sql = (
        f"SELECT {targets} FROM {quote(model._meta.db_table)} WHERE {column('organization')} = %s "  # noqa: S608
        f"AND NOT ({column(key)} = '') AND {column(key)} IN ({placeholders})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [organization.pk, *values])
        return cursor.fetchall()


def _update(
    model: type[Model], columns: Sequence[str], rows: Sequence[Sequence], *, constants: dict[str, object]
) -> None:
    """Sets `columns` to the values of each row after its first, the id; and `constants` in every row.

    bulk_update() writes a CASE WHEN per column that lists every object, which
    the database walks for each row it updates: quadratic in the batch size.
    Joining a list of VALUES costs one index lookup a row instead.
    """
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    key = quote(_column(model._meta.pk))
    changing = [quote(_column(_concrete_field(model, name))) for name in columns]
    fixed = [_concrete_field(model, name) for name in constants]
    assignments = ", ".join(
        [f"{column} = v.{column}" for column in changing]
        + [f"{quote(_column(field))} = %s" for field in fixed]
    )
    fixed_values = [field.get_db_prep_save(constants[field.name], connection) for field in fixed]
    row_placeholders = f"({', '.join(['%s'] * (1 + len(changing)))})"
    with connection.cursor() as cursor:
        for chunk in batched(rows, ROWS_PER_STATEMENT, strict=False):
            values = ", ".join([row_placeholders] * len(chunk))
            # Identifiers come from the model, quoted; every value is a parameter.
            cursor.execute(
                f"WITH v ({key}, {', '.join(changing)}) AS (VALUES {values}) "  # noqa: S608
                f"UPDATE {table} SET {assignments} FROM v WHERE {table}.{key} = v.{key}",
                [*(value for row in chunk for value in row), *fixed_values],
            )


def _practice_ids(
    organization: Organization, batch: list[_Kept], result: NppesImportResult
) -> dict[str, int]:
    """The practice id of every location in the batch, creating the practices not seen before."""
    locations: dict[str, _Kept] = {}
    for row in batch:
        if row.location_key:
            locations.setdefault(row.location_key, row)
    ids: dict[str, int] = dict(_by_key(Practice, organization, "location_key", locations))
    missing = [key for key in locations if key not in ids]
    new = []
    for key in missing:
        row = locations[key]
        # Named after the address until the liaison gives it its real name.
        name = ", ".join(part for part in (row.line1, row.line2, row.city) if part)[:200]
        address = (row.line1, row.line2, row.city, row.state, row.postal_code, row.phone, row.fax)
        # Practice.save() computes location_key and search_text; _insert() skips it.
        new.append(
            (
                name,
                *address,
                key,
                practice_search_text(name=name, city=row.city, phone=row.phone, fax=row.fax),
            )
        )
    if new:
        _insert(Practice, PRACTICE_COLUMNS, new, constants={"organization": organization.pk})
        ids |= _by_key(Practice, organization, "location_key", missing)
        result.practices_created += len(new)
    return ids


def _apply_batch(
    organization: Organization,
    batch: list[_Kept],
    *,
    now: datetime,
    result: NppesImportResult,
) -> None:
    # NPPES lists an NPI once. Should a file repeat one, its last row wins, in
    # a batch as across batches, where the later row updates the earlier one.
    latest = {row.npi: row for row in batch}
    result.skipped += len(batch) - len(latest)
    batch = list(latest.values())
    stored = {
        npi: (pk, tuple(values))
        for npi, pk, *values in _by_key(
            Physician, organization, "npi", (row.npi for row in batch), ("id", *NPPES_PHYSICIAN_FIELDS)
        )
    }
    practice_ids = _practice_ids(organization, batch, result)

    new, changed = [], []
    for row in batch:
        if row.npi not in stored:
            # Physician.save() computes search_text; _insert() skips it.
            new.append((row.npi, *row.nppes_values, row.search_text))
            continue
        pk, values = stored[row.npi]
        if values == row.nppes_values:
            result.unchanged += 1
        else:
            changed.append((pk, *row.nppes_values, row.search_text))
    # save() would set search_text and updated_at; _update() does not call it.
    _update(Physician, (*NPPES_PHYSICIAN_FIELDS, "search_text"), changed, constants={"updated_at": now})
    result.updated += len(changed)
    physician_ids = {npi: pk for npi, (pk, _) in stored.items()}
    if new:
        _insert(
            Physician,
            ("npi", *NPPES_PHYSICIAN_FIELDS, "search_text"),
            new,
            constants={"organization": organization.pk},
        )
        physician_ids |= _by_key(Physician, organization, "npi", (row[0] for row in new))
        result.created += len(new)

    linked, has_primary = set(), set()
    if stored:
        for linked_physician_id, linked_practice_id, is_primary in Affiliation.objects.filter(
            organization=organization, physician_id__in=[pk for pk, _ in stored.values()]
        ).values_list("physician_id", "practice_id", "is_primary"):
            linked.add((linked_physician_id, linked_practice_id))
            if is_primary:
                has_primary.add(linked_physician_id)
    affiliations = []
    for row in batch:
        practice_id = practice_ids.get(row.location_key)
        physician_id = physician_ids[row.npi]
        if practice_id is None or (physician_id, practice_id) in linked:
            continue
        affiliations.append((physician_id, practice_id, physician_id not in has_primary))
        has_primary.add(physician_id)
    _insert(
        Affiliation,
        ("physician", "practice", "is_primary"),
        affiliations,
        constants={"organization": organization.pk},
    )


def _apply(
    organization: Organization,
    rows: IO[str],
    *,
    result: NppesImportResult,
    on_applying: Callable[[], None] | None,
    on_applied: Callable[[NppesImportResult], None] | None,
) -> None:
    """Phase 2: all or nothing, so a failure halfway (or in `on_applied`) leaves the directory as it was."""
    now = timezone.now()
    analyzed_at = 0
    with transaction.atomic():
        # Before the wait below, so a job waiting its turn is held too, not taken over.
        if on_applying:
            on_applying()
        # One import at a time per organization: a second one waits here, then
        # finds the first one's rows, instead of colliding with them. NO KEY
        # UPDATE, so other writes that refer to the organization do not wait.
        Organization.objects.select_for_update(no_key=True).get(pk=organization.pk)
        postgresql = connection.vendor == "postgresql"
        if postgresql:
            _prefer_index_lookups()
        for batch in _batches(rows):
            _apply_batch(organization, batch, now=now, result=result)
            if postgresql and result.created >= 4 * analyzed_at + BATCH_SIZE:
                _refresh_statistics()
                analyzed_at = result.created
        if on_applied:
            on_applied(result)
