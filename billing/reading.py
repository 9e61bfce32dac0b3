"""Reading the untidy CSV reports EMRs and practice-management systems export.

What a real export brings, and what is done with it:

1. Encoding: UTF-8 with or without a byte-order mark; otherwise Windows-1252
   (the usual "Latin-1" of Windows exports), detected when the bytes are not
   UTF-8, unless the person importing names the encoding.
2. Line ends (CRLF, LF) and the delimiter (comma, semicolon, tab or pipe,
   sniffed from the first lines).
3. Title lines before the header (“Charge Detail Report”, a date range):
   the header is the first line as wide as the report's widest early line.
4. Blank lines, the header repeated at the top of each printed page,
   page footers and totals (“Total”, “Grand Total”, “Visit Total”, “Page 2
   of 9”): skipped.
5. Extra columns: ignored; a short line is padded with empty cells.
6. Amounts “$1,234.50”, “1234.5”, “(25.00)”, “-25.00”, “25.00-”; dates
   “12/01/2026”, “2026-12-01”, “12/1/26”, with or without a time after them.
"""

import codecs
import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import IO

ENCODINGS = {"utf-8-sig": "UTF-8", "cp1252": "Windows-1252 (Latin-1)"}
SNIFF_BYTES = 64 * 1024
DETECT_CHUNK = 1024 * 1024
HEADER_SEARCH_LINES = 20
DELIMITERS = ",;\t|"
FOOTER = re.compile(
    r"^(grand\s+total|sub-?\s*total|totals?\b|page\s+\d+(\s+of\s+\d+)?|report\s+(total|generated|printed)|"
    # “Visit Total”, “Patient Total:”: the subtotals of reports that list a visit once per code.
    r"end\s+of\s+report|\*+\s*end|[a-z][a-z ]{0,40}\s+totals?\s*:?$)",
    re.IGNORECASE,
)
AMOUNT = re.compile(
    r"^(?P<open>\()?(?P<sign>-)?\$?(?P<number>\d{1,3}(?:,\d{3})+|\d*)(?P<cents>\.\d{1,2})?(?P<trail>-)?(?P<close>\))?$"
)
DATE_SHAPES = (
    re.compile(r"^(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})$"),
    re.compile(r"^(?P<month>\d{1,2})[/-](?P<day>\d{1,2})[/-](?P<year>\d{4}|\d{2})$"),
)


class ReportError(ValueError):
    """The file cannot be read as a report at all: nothing in it is imported."""


def detect_encoding(file: IO[bytes]) -> str:
    """ "utf-8-sig" when the whole file reads as UTF-8, BOM or not; else "cp1252". Leaves it at its start."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := file.read(DETECT_CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252"
    finally:
        file.seek(0)
    return "utf-8-sig"


def _as_latin_1(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start : error.end].decode("latin-1"), error.end


# Windows-1252 leaves five bytes undefined; Latin-1 (which Windows-1252 extends) reads them.
codecs.register_error("rapport-latin-1", _as_latin_1)


def text_stream(file: IO[bytes], encoding: str) -> io.TextIOWrapper:
    """The file as text, lines ends as they are (the CSV reader takes CRLF and LF)."""
    errors = "rapport-latin-1" if encoding == "cp1252" else "strict"
    return io.TextIOWrapper(file, encoding=encoding, errors=errors, newline="")


def _dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS)
    except csv.Error:
        return csv.excel


def normalize_heading(cell: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", fold(cell)).strip()


def fold(text: str) -> str:
    """Lower case without accents: “Núñez ” → “nunez”."""
    if text.isascii():
        return text.strip().casefold()
    decomposed = unicodedata.normalize("NFKD", text.strip())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def header_signature(header: list[str]) -> str:
    """The report's shape: the same columns in the same order give the same signature."""
    shape = "|".join(normalize_heading(cell) for cell in header)
    return hashlib.sha256(shape.encode()).hexdigest()


@dataclass(frozen=True)
class Line:
    number: int  # in the file, counting from 1, as a spreadsheet shows it
    cells: list[str]


@dataclass
class Report:
    """A report being read: its header, and its data lines one at a time."""

    header: list[str]
    header_line: int
    lines: Iterator[Line]
    stream: io.TextIOWrapper
    file: IO[bytes]

    @property
    def bytes_read(self) -> int:
        return self.file.tell()


def _numbered_rows(reader: Iterator[list[str]], *, line_of) -> Iterator[Line]:
    for cells in reader:
        yield Line(line_of(), [cell.strip() for cell in cells])


def open_report(file: IO[bytes], *, encoding: str) -> Report:
    """Opens `file` (binary, at its start) as a report: finds the delimiter and the header.

    Raises ReportError when no header can be found or the text is not in `encoding`.
    """
    stream = text_stream(file, encoding)
    try:
        sample = stream.read(SNIFF_BYTES)
    except UnicodeDecodeError as error:
        raise ReportError(
            f"The file is not {ENCODINGS.get(encoding, encoding)} text; choose its encoding."
        ) from error
    stream.seek(0)
    reader = csv.reader(stream, _dialect(sample))
    rows = _numbered_rows(reader, line_of=lambda: reader.line_num)
    early: list[Line] = []
    try:
        for line in rows:
            early.append(line)
            if len(early) == HEADER_SEARCH_LINES:
                break
    except (csv.Error, UnicodeDecodeError) as error:
        raise ReportError(f"The file is not a CSV report: {error}.") from error
    width = max((sum(1 for cell in line.cells if cell) for line in early), default=0)
    if width < 2:
        raise ReportError(
            "No header line found: the file should be a CSV report with a line of column headings."
        )
    index = next(i for i, line in enumerate(early) if sum(1 for cell in line.cells if cell) >= width)
    header = early[index]

    def data_lines() -> Iterator[Line]:
        yield from early[index + 1 :]
        yield from rows

    return Report(
        header=header.cells, header_line=header.number, lines=data_lines(), stream=stream, file=file
    )


def is_skipped(cells: list[str], header_key: list[str]) -> bool:
    """Blank lines, the header repeated on each page, and totals and page footers."""
    first = next((cell for cell in cells if cell), None)
    if first is None:
        return True
    # Compared in full only when the first cell could be the header's: most lines are data.
    if (
        normalize_heading(cells[0]) == header_key[0]
        and [normalize_heading(cell) for cell in cells[: len(header_key)]] == header_key
    ):
        return True
    return bool(FOOTER.match(first))


def parse_amount(text: str) -> Decimal:
    """“$1,234.50” → 1234.50; “(25.00)”, “-25.00” and “25.00-” → -25.00. Raises ValueError."""
    compact = text.replace(" ", "").replace("\u00a0", "")
    match = AMOUNT.match(compact)
    if not compact or match is None or not (match["number"] or match["cents"]):
        raise ValueError(f"“{text}” is not an amount")
    if bool(match["open"]) != bool(match["close"]) or (match["sign"] and match["trail"]):
        raise ValueError(f"“{text}” is not an amount")
    try:
        value = Decimal((match["number"] or "0").replace(",", "") + (match["cents"] or ""))
    except InvalidOperation as error:
        raise ValueError(f"“{text}” is not an amount") from error
    negative = match["open"] or match["sign"] or match["trail"]
    return (-value if negative else value).quantize(Decimal("0.01"))


def parse_date(text: str, *, today: date) -> date:
    """“12/01/2026”, “2026-12-01”, “12/1/26” (a time after it is ignored). Raises ValueError.

    A two-digit year is the latest year ending so that is not after next year.
    """
    first = text.strip().split(" ")[0].split("T")[0]
    for shape in DATE_SHAPES:
        match = shape.match(first)
        if match:
            year = int(match["year"])
            if len(match["year"]) == 2:
                year += 2000 if 2000 + year <= today.year + 1 else 1900
            try:
                return date(year, int(match["month"]), int(match["day"]))
            except ValueError:
                break
    raise ValueError(f"“{text}” is not a date (MM/DD/YYYY or YYYY-MM-DD)")


def report_header(file: IO[bytes], *, encoding: str) -> list[str]:
    """The report's header; `file` is left open, at its start. Raises ReportError."""
    report = open_report(file, encoding=encoding)
    # Detached, the text layer no longer closes the file when it is discarded.
    report.stream.detach()
    file.seek(0)
    return report.header
