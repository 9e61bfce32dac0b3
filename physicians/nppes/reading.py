"""Phase 1 of the NPPES import: reading the file and normalizing the rows to keep.

Streams the CSV once, checks that it is an NPPES file and that every line is
well formed, applies the state and taxonomy filters, and writes each row to
keep, already normalized (readable case, search and location keys, cut to the
columns' lengths), to a temporary CSV file that the bulk layer reads back. It
touches no database, so a malformed file is refused before anything is written.

The error and the result that every layer reports through start here, as does
the row between the phases (_Kept) with the physician fields NPPES is the
source of.
"""

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from operator import getitem, itemgetter
from typing import IO, NamedTuple, Protocol

from django.core.exceptions import ValidationError

from clinics.phones import phone_for_storage

from ..identifiers import npi_problem
from ..models import Physician, Practice, search_key
from ..search import physician_search_text
from ..taxonomy import REFERRER_TAXONOMY

PROGRESS_EVERY = 5_000
INVALID_ROWS_KEPT = 500
READ_BUFFER = 1 << 20

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
_KEPT_SLICES = (
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


def _address_key(*parts: str) -> str:
    """search_key(), skipping its Unicode normalization for all-ASCII text, which it leaves as is."""
    text = " ".join(part for part in parts if part)
    return " ".join(text.lower().split()) if text.isascii() else search_key(text)


def _location_key(line1: str, line2: str, postal_code: str) -> str:
    """location_key(), on the faster _address_key(); tests hold the two equal."""
    return _address_key(line1, line2, postal_code[:5]) if line1 and postal_code else ""


# ---- Phase 1: read ----------------------------------------------------------


class ByteStream(Protocol):
    """What the import reads a file through: an open file, an upload, a stored file."""

    def readinto(self, buffer: bytearray | memoryview, /) -> int | None: ...


class _CountingReader(io.RawIOBase):
    """Passes bytes through from `stream`, counting them for progress reports."""

    def __init__(self, stream: ByteStream) -> None:
        self._stream = stream
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int | None:  # type: ignore[override]
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
    stream: ByteStream,
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
        phone=phone_for_storage(phone),
        search_text=physician_search_text(
            first_name=first_name, middle_name=middle_name, last_name=last_name
        ),
        location_key=_location_key(line1, line2, postal_code),
        line1=line1,
        line2=line2,
        city=readable_address(city),
        state=state if len(state) == 2 else "",
        postal_code=postal_code,
        fax=phone_for_storage(fax),
    )
    return list(map(getitem, values, _KEPT_SLICES))
