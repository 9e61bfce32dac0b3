"""Import of the NPPES Data Dissemination file (the public NPI registry) into a directory.

The national file is about 10 GB, so it is streamed, and the import runs in two
phases so the directory never holds half an import:

1. Read: stream the CSV once, validate every row and write the rows to keep,
   already normalized, to a temporary file. A malformed file stops here, before
   anything is written to the database.
2. Apply: read the temporary file back in batches and upsert physicians,
   practices and affiliations inside one transaction, with a fixed number of
   queries per batch.

Rerunning the same file changes nothing; only the fields that come from NPPES
are ever updated, never what the clinic manages (stage, tier, owner, ...).
"""

import csv
import io
import logging
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import batched
from operator import getitem, itemgetter
from pathlib import Path
from typing import IO, BinaryIO, NamedTuple

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from accounts.models import User
from clinics.models import Organization

from ..identifiers import npi_problem
from ..models import (
    Affiliation,
    ImportStatus,
    NppesImport,
    Physician,
    Practice,
    search_key,
)
from ..taxonomy import REFERRER_TAXONOMY

logger = logging.getLogger(__name__)

BATCH_SIZE = 2_000
PROGRESS_EVERY = 5_000
INVALID_ROWS_KEPT = 500
READ_BUFFER = 1 << 20
# SQLite's driver keeps the last 128 statements it compiled; INSERTs of a
# short, repeating length keep that cache small and fast.
ROWS_PER_STATEMENT = 500

# Read in every row, to decide whether to keep it.
FILTER_COLUMNS = (
    "Entity Type Code",
    "Provider Business Practice Location Address State Name",
    "NPI Deactivation Date",
    "NPI Reactivation Date",
)
# Read in the rows kept, in this order (see _kept()).
PERSON_COLUMNS = (
    "NPI",
    "Provider Last Name (Legal Name)",
    "Provider First Name",
    "Provider Middle Name",
    "Provider Name Prefix Text",
    "Provider Credential Text",
    "Provider First Line Business Practice Location Address",
    "Provider Second Line Business Practice Location Address",
    "Provider Business Practice Location Address City Name",
    "Provider Business Practice Location Address Postal Code",
    "Provider Business Practice Location Address Telephone Number",
    "Provider Business Practice Location Address Fax Number",
)
TAXONOMY_SLOTS = range(1, 16)
TAXONOMY_CODE_COLUMN = "Healthcare Provider Taxonomy Code_{}"
TAXONOMY_SWITCH_COLUMN = "Healthcare Provider Primary Taxonomy Switch_{}"
INDIVIDUAL = "1"

# The physician fields NPPES is the source of; an import may overwrite these
# and nothing else.
NPPES_PHYSICIAN_FIELDS = (
    "prefix",
    "first_name",
    "middle_name",
    "last_name",
    "credential",
    "taxonomy_code",
    "phone",
)

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

NOT_AN_NPPES_FILE = "Is this the NPPES Data Dissemination file?"


class NppesFileError(Exception):
    """The file cannot be imported; the message says why, in words an admin understands."""


@dataclass
class NppesImportResult:
    rows_read: int = 0
    bytes_read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    invalid: int = 0
    practices_created: int = 0
    # The first refused rows, each {"line": n, "npi": "...", "reason": "..."}.
    invalid_rows: list[dict] = field(default_factory=list)

    def refuse(self, line: int, npi: str, reason: str) -> None:
        self.invalid += 1
        if len(self.invalid_rows) < INVALID_ROWS_KEPT:
            self.invalid_rows.append({"line": line, "npi": npi[:20], "reason": reason})


class _Kept(NamedTuple):
    """One row to import, normalized; kept in a temporary CSV file between the phases."""

    npi: str
    prefix: str
    first_name: str
    middle_name: str
    last_name: str
    credential: str
    taxonomy_code: str
    phone: str
    search_text: str
    location_key: str
    line1: str
    line2: str
    city: str
    state: str
    postal_code: str
    fax: str

    @property
    def nppes_values(self) -> tuple[str, ...]:
        return self[1:8]


def _max_length(model, name: str) -> int:
    return model._meta.get_field(name).max_length


# NPPES's own limits are mostly below these; cutting to them keeps an odd row
# from failing the whole import on PostgreSQL, which enforces lengths.
_KEPT_SLICES = _Kept(
    *(slice(_max_length(Physician, name)) for name in ("npi", *NPPES_PHYSICIAN_FIELDS, "search_text")),
    slice(_max_length(Practice, "location_key")),
    *(slice(_max_length(Practice, name)) for name in ("address_line1", "address_line2", "city", "state")),
    *(slice(_max_length(Practice, name)) for name in ("postal_code", "fax")),
)


# ---- Filters ----------------------------------------------------------------


def nppes_filters_clean(*, states: Iterable[str], taxonomies: Iterable[str]) -> tuple[list[str], list[str]]:
    """Upper-cased, de-duplicated state codes and taxonomy codes (or code prefixes)."""
    states = list(dict.fromkeys(state.strip().upper() for state in states if state.strip()))
    bad = [state for state in states if len(state) != 2 or not (state.isascii() and state.isalpha())]
    if bad:
        raise ValidationError(f"Use two-letter state codes such as CO; not understood: {', '.join(bad)}.")
    codes = list(dict.fromkeys(code.strip().upper() for code in taxonomies if code.strip()))
    bad = [code for code in codes if len(code) > 10 or not (code.isascii() and code.isalnum())]
    if bad:
        raise ValidationError(
            "Taxonomy codes are up to 10 letters and digits, e.g. 207X00000X, or 207X for all "
            f"orthopaedic surgery; not understood: {', '.join(bad)}."
        )
    return states, codes


def _taxonomy_matcher(codes: list[str]) -> Callable[[str], bool]:
    """A full 10-character code matches itself; a shorter one matches every code it begins."""
    if not codes:
        return frozenset(REFERRER_TAXONOMY).__contains__
    exact = frozenset(code for code in codes if len(code) == 10)
    prefixes = tuple(code for code in codes if len(code) < 10)
    if prefixes:
        return lambda code: code in exact or code.startswith(prefixes)
    return exact.__contains__


def _date_key(value: str) -> str:
    """NPPES writes MM/DD/YYYY; turned around it sorts as a date."""
    month, _, rest = value.partition("/")
    day, _, year = rest.partition("/")
    return f"{year}-{month:0>2}-{day:0>2}" if year else value


# ---- Readable case ----------------------------------------------------------

# str.title() capitalizes after any character that is not a letter; after a
# digit ("3RD" → "3rd") or in "JOHN'S" it should not.
_NOT_A_WORD_START = re.compile(r"(?<=\d)[^\W\d_]+|(?<=')S\b")
_MC = re.compile(r"\bMc([a-z])(?=[a-z])")
_ADDRESS_ABBREVIATIONS = re.compile(r"\b(?:Ne|Nw|Se|Sw|Po|Us)\b")


def _capitalized(value: str) -> str:
    return _NOT_A_WORD_START.sub(lambda match: match[0].lower(), value.title())


# NPPES writes everything in capitals; values already in mixed case were typed
# that way on purpose and are kept. The caches pay off because first names,
# surnames, streets and cities repeat endlessly.
@lru_cache(maxsize=1 << 16)
def readable_name(value: str) -> str:
    """O'BRIEN-NÚÑEZ → O'Brien-Núñez, MCDONALD → McDonald, DR. → Dr."""
    value = " ".join(value.split())
    if not value.isupper():
        return value
    return _MC.sub(lambda match: "Mc" + match[1].upper(), _capitalized(value))


@lru_cache(maxsize=1 << 16)
def readable_address(value: str) -> str:
    """1550 LARIMER ST NE → 1550 Larimer St NE, 200 W 3RD AVE → 200 W 3rd Ave."""
    value = " ".join(value.split())
    if not value.isupper():
        return value
    return _ADDRESS_ABBREVIATIONS.sub(lambda match: match[0].upper(), _capitalized(value))


def _credential(value: str) -> str:
    """Keeps the given form ("M.D." stays) without stray separators around it."""
    return " ".join(value.split()).strip(",;:/-").strip().lstrip(".")


def _search_key(*parts: str) -> str:
    """search_key(), skipping its Unicode normalization for all-ASCII text, which it leaves as is."""
    text = " ".join(part for part in parts if part)
    return " ".join(text.lower().split()) if text.isascii() else search_key(text)


def _location_key(line1: str, line2: str, postal_code: str) -> str:
    """location_key(), on the faster _search_key(); tests hold the two equal."""
    return _search_key(line1, line2, postal_code[:5]) if line1 and postal_code else ""


# ---- Phase 1: read ----------------------------------------------------------


class _CountingReader(io.RawIOBase):
    """Passes bytes through from `stream`, counting them for progress reports."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self._stream.readinto(buffer)
        self.bytes_read += count or 0
        return count


def _decoded_lines(lines: Iterable[bytes]) -> Iterator[str]:
    """The lines as text, decoded one by one so an undecodable line is named by its number."""
    for number, line in enumerate(lines, start=1):
        try:
            # utf-8-sig drops the byte-order mark some spreadsheet programs put before the header.
            text = line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise NppesFileError(
                f"Line {number:,} is not UTF-8 text. Download the NPPES file again, "
                "or save the extract as “CSV UTF-8”."
            ) from None
        # No database stores a NUL in text; a file holding one is damaged.
        if "\x00" in text:
            raise NppesFileError(f"Line {number:,} holds a NUL byte; the file is damaged.")
        yield text


class _Layout(NamedTuple):
    """Where the columns the import reads are, in one file's header."""

    width: int
    filter: itemgetter
    person: itemgetter
    switches: itemgetter
    codes: list[int]

    @classmethod
    def of(cls, header: list[str]) -> "_Layout":
        positions = {name.strip(): index for index, name in enumerate(header)}
        codes = [TAXONOMY_CODE_COLUMN.format(slot) for slot in TAXONOMY_SLOTS]
        switches = [TAXONOMY_SWITCH_COLUMN.format(slot) for slot in TAXONOMY_SLOTS]
        required = [PERSON_COLUMNS[0], *FILTER_COLUMNS, *PERSON_COLUMNS[1:], *codes, *switches]
        missing = [name for name in required if name not in positions]
        if missing:
            listed = ", ".join(f"“{name}”" for name in missing[:3])
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            raise NppesFileError(f"The file has no column {listed}{more}. {NOT_AN_NPPES_FILE}")
        return cls(
            width=len(header),
            filter=itemgetter(*(positions[name] for name in FILTER_COLUMNS)),
            person=itemgetter(*(positions[name] for name in PERSON_COLUMNS)),
            switches=itemgetter(*(positions[name] for name in switches)),
            codes=[positions[name] for name in codes],
        )


def _read(
    stream: BinaryIO,
    *,
    states: list[str],
    taxonomies: list[str],
    out: IO[str],
    result: NppesImportResult,
    on_progress: Callable[[int, int], None] | None,
) -> None:
    """Phase 1: validates the whole file and writes the rows to keep to `out`, as CSV."""
    counter = _CountingReader(stream)
    reader = csv.reader(_decoded_lines(io.BufferedReader(counter, READ_BUFFER)), strict=True)
    try:
        try:
            layout = _Layout.of(next(reader))
        except StopIteration:
            raise NppesFileError("The file is empty.") from None
        wanted_state = frozenset(states).__contains__ if states else None
        wanted_taxonomy = _taxonomy_matcher(taxonomies)
        kept = csv.writer(out)
        rows_read = skipped = 0
        for record in reader:
            if len(record) != layout.width:
                if not record:  # a blank line, e.g. at the end
                    continue
                raise NppesFileError(
                    f"Line {reader.line_num:,} has {len(record)} columns; the NPPES header has "
                    f"{layout.width}. {NOT_AN_NPPES_FILE}"
                )
            rows_read += 1
            if on_progress and rows_read % PROGRESS_EVERY == 0:
                on_progress(counter.bytes_read, rows_read)

            entity_type, state, deactivated, reactivated = layout.filter(record)
            if entity_type != INDIVIDUAL:
                skipped += 1
                continue
            state = state.strip().upper()
            if wanted_state and not wanted_state(state):
                skipped += 1
                continue
            switches = layout.switches(record)
            slot = switches.index("Y") if "Y" in switches else 0
            taxonomy = record[layout.codes[slot]].strip().upper()
            if not wanted_taxonomy(taxonomy):
                skipped += 1
                continue
            if deactivated.strip() and (
                not reactivated.strip() or _date_key(reactivated.strip()) <= _date_key(deactivated.strip())
            ):
                skipped += 1
                continue

            person = layout.person(record)
            npi, last_name, first_name = person[0].strip(), person[1], person[2]
            problem = npi_problem(npi)
            if problem is None and not last_name.strip():
                problem = "The row has no last name."
            if problem is None and not first_name.strip():
                problem = "The row has no first name."
            if problem:
                result.refuse(reader.line_num, npi, problem)
                continue
            kept.writerow(_kept(npi, person, taxonomy, state))
    except csv.Error as error:
        raise NppesFileError(
            f"Line {reader.line_num:,} is not valid CSV ({error}). {NOT_AN_NPPES_FILE}"
        ) from None
    result.rows_read = rows_read
    result.skipped = skipped
    result.bytes_read = counter.bytes_read
    if on_progress:
        on_progress(counter.bytes_read, rows_read)


def _kept(npi: str, person: tuple[str, ...], taxonomy: str, state: str) -> list[str]:
    """The row to import, normalized, from the PERSON_COLUMNS values."""
    _, last_name, first_name, middle_name, prefix, credential, line1, line2, city, postal_code, phone, fax = (
        person
    )
    first_name, middle_name, last_name = map(readable_name, (first_name, middle_name, last_name))
    credential = _credential(credential)
    line1, line2 = readable_address(line1), readable_address(line2)
    postal_code = postal_code.strip()
    values = _Kept(
        npi=npi,
        prefix=readable_name(prefix),
        first_name=first_name,
        middle_name=middle_name,
        last_name=last_name,
        credential=credential,
        taxonomy_code=taxonomy,
        phone=phone.strip(),
        search_text=_search_key(first_name, middle_name, last_name, credential),
        location_key=_location_key(line1, line2, postal_code),
        line1=line1,
        line2=line2,
        city=readable_address(city),
        state=state if len(state) == 2 else "",
        postal_code=postal_code,
        fax=fax.strip(),
    )
    return list(map(getitem, values, _KEPT_SLICES))


# ---- Phase 2: apply ---------------------------------------------------------


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
    given = [model._meta.get_field(name) for name in columns]
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
    targets = ", ".join(quote(field.column) for field in [*given, *rest])
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
        return quote(model._meta.get_field(name).column)

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
    key = quote(model._meta.pk.column)
    changing = [quote(model._meta.get_field(name).column) for name in columns]
    fixed = [model._meta.get_field(name) for name in constants]
    assignments = ", ".join(
        [f"{column} = v.{column}" for column in changing] + [f"{quote(field.column)} = %s" for field in fixed]
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
    locations = {}
    for row in batch:
        if row.location_key:
            locations.setdefault(row.location_key, row)
    ids = dict(_by_key(Practice, organization, "location_key", locations))
    missing = [key for key in locations if key not in ids]
    new = []
    for key in missing:
        row = locations[key]
        # Named after the address until the liaison gives it its real name.
        name = ", ".join(part for part in (row.line1, row.line2, row.city) if part)[:200]
        address = (row.line1, row.line2, row.city, row.state, row.postal_code, row.phone, row.fax)
        # Practice.save() computes location_key and search_text; _insert() skips it.
        new.append((name, *address, key, _search_key(name, row.city)))
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
        for physician_id, practice_id, is_primary in Affiliation.objects.filter(
            organization=organization, physician_id__in=[pk for pk, _ in stored.values()]
        ).values_list("physician_id", "practice_id", "is_primary"):
            linked.add((physician_id, practice_id))
            if is_primary:
                has_primary.add(physician_id)
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


def _apply(organization: Organization, rows: IO[str], *, result: NppesImportResult) -> None:
    """Phase 2: all or nothing, so a failure halfway leaves the directory as it was."""
    now = timezone.now()
    analyzed_at = 0
    with transaction.atomic():
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


# Each batch looks its keys up in the unique (organization, key) indexes.
# Should PostgreSQL's planner choose to read all of the organization's rows
# instead, once per batch, the import would slow with the square of its size;
# the two functions below keep it to the indexes.


def _prefer_index_lookups() -> None:
    """Tells PostgreSQL, for this transaction, that pages are read in any order at little cost.

    True of a directory in memory, as it is during an import. With the default
    (four times a sequential read), the planner prefers reading every row of an
    organization with up to some 200,000 physicians to probing the index for a
    batch's 2,000 keys.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL random_page_cost = 1.1")


def _refresh_statistics() -> None:
    """Lets PostgreSQL see how much this import has added to the directory so far.

    The planner estimates from table statistics, and autovacuum cannot count
    rows of a transaction still open: believing the organization small, it
    would scan all its rows. ANALYZE here counts the transaction's own rows;
    run each time the import has grown fourfold, and only for the columns of
    the lookups, it costs little.
    """
    quote = connection.ops.quote_name
    tables = ", ".join(
        f"{quote(model._meta.db_table)} ({quote(model._meta.get_field('organization').column)}, {quote(key)})"
        for model, key in ((Physician, "npi"), (Practice, "location_key"))
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")


def nppes_file_import(
    *,
    organization: Organization,
    file: BinaryIO,
    states: Iterable[str] = (),
    taxonomies: Iterable[str] = (),
    on_progress: Callable[[int, int], None] | None = None,
) -> NppesImportResult:
    """Imports the individual providers of an NPPES file, opened in binary, into `organization`.

    Keeps providers practising in `states` (all states when empty) whose primary
    taxonomy matches `taxonomies` (the usual referring specialties when empty).
    `on_progress(bytes_read, rows_read)` is called every few thousand rows while
    reading. Raises NppesFileError, with nothing imported, if the file is not a
    well-formed NPPES file.
    """
    states, taxonomies = nppes_filters_clean(states=states, taxonomies=taxonomies)
    result = NppesImportResult()
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as rows:
        _read(file, states=states, taxonomies=taxonomies, out=rows, result=result, on_progress=on_progress)
        _apply(organization, rows, result=result)
    return result


# ---- Jobs -------------------------------------------------------------------


def nppes_import_enqueue(
    *,
    organization: Organization,
    user: User,
    uploaded_file: UploadedFile,
    states: list[str],
    taxonomies: list[str],
) -> NppesImport:
    """Saves the uploaded file as an import job and queues it for the worker."""
    # tasks.py imports this module, so the task is imported when needed.
    from ..tasks import import_nppes_file

    states, taxonomies = nppes_filters_clean(states=states, taxonomies=taxonomies)
    job = NppesImport(
        organization=organization,
        created_by=user,
        file=uploaded_file,
        original_name=Path(uploaded_file.name or "").name[:255],
        states=states,
        taxonomies=taxonomies,
        bytes_total=uploaded_file.size or 0,
    )
    job.full_clean()
    with transaction.atomic():
        job.save()
        transaction.on_commit(lambda: import_nppes_file.delay(job.pk))
    return job


def nppes_import_run(*, job: NppesImport) -> NppesImport:
    """Runs a queued import job and records its outcome; a job not queued is left alone.

    The job is claimed with a conditional update, so a second delivery of the
    same task does nothing. A bad file fails the job with the reason. Any other
    error puts the job back in the queue and propagates: the task retries it or,
    when it gives up, marks the job failed (`nppes_import_fail`).
    """
    jobs = NppesImport.objects.filter(pk=job.pk)
    claimed = jobs.filter(status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=timezone.now(), bytes_read=0, rows_read=0, error=""
    )
    if not claimed:
        logger.info("NPPES import %s is not queued; nothing to do", job.pk)
        job.refresh_from_db()
        return job

    def report(bytes_read: int, rows_read: int) -> None:
        # Autocommit, outside the import's transaction, so the progress bar sees it at once.
        jobs.update(bytes_read=bytes_read, rows_read=rows_read)

    try:
        try:
            stream = job.file.open("rb")
        except OSError as error:
            raise NppesFileError("The uploaded file is no longer available; upload it again.") from error
        with stream:
            result = nppes_file_import(
                organization=job.organization,
                file=stream,
                states=job.states,
                taxonomies=job.taxonomies,
                on_progress=report,
            )
    except NppesFileError as error:
        jobs.update(status=ImportStatus.FAILED, error=str(error), finished_at=timezone.now())
    except BaseException:
        jobs.filter(status=ImportStatus.RUNNING).update(status=ImportStatus.QUEUED)
        raise
    else:
        jobs.update(
            status=ImportStatus.SUCCEEDED,
            finished_at=timezone.now(),
            bytes_read=result.bytes_read,
            rows_read=result.rows_read,
            created_count=result.created,
            updated_count=result.updated,
            unchanged_count=result.unchanged,
            skipped_count=result.skipped,
            invalid_count=result.invalid,
            practices_created=result.practices_created,
            invalid_rows=result.invalid_rows,
        )
    job.refresh_from_db()
    return job


def nppes_import_fail(*, job_id: int, error: str) -> None:
    """Marks the job failed with `error`, unless it has finished."""
    NppesImport.objects.filter(pk=job_id, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]).update(
        status=ImportStatus.FAILED, error=error, finished_at=timezone.now()
    )
