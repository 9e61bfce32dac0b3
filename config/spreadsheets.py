"""CSV that is safe to open in a spreadsheet: every export of Rapport writes through `csv_lines`.

A cell that starts with = + - @, a tab or a carriage return is run as a
formula by Excel, LibreOffice and Google Sheets, so a name typed as
"=HYPERLINK(...)" (into the directory, a referral, anything exported) could
act when the file is opened. Such a cell is prefixed with a quote and
arrives as text. A value that is a number (not text that looks like one) is
written as it is: "-3" from a count's change is a number, not a formula.

A download starts with a byte-order mark, as the referral export and the
organization's archive do: without one, Excel reads UTF-8 as Windows-1252
and "José" arrives as "JosÃ©".
"""

import csv
from collections.abc import Generator, Iterable, Iterator
from decimal import Decimal

from django.http import StreamingHttpResponse

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> str:
    # A number is never a formula: a negative one (a change, a refund) stays a number.
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_TRIGGERS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[list]) -> Generator[str]:
    """The header, then each row, as CSV lines with every cell made spreadsheet-safe."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([spreadsheet_safe(cell) for cell in row])


def csv_download(*, filename: str, header: list[str], rows: Iterable[list]) -> StreamingHttpResponse:
    """A CSV attachment streamed as it is read: a byte-order mark, then `csv_lines`."""

    def content() -> Iterator[str]:
        yield "\ufeff"
        yield from csv_lines(header, rows)

    response = StreamingHttpResponse(
        content(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
