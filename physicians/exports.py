"""CSV export that is safe to open in a spreadsheet."""

import csv
from collections.abc import Iterable, Iterator

# A cell starting with one of these is read as a formula by Excel, LibreOffice
# and Google Sheets; a name like "=HYPERLINK(...)" typed into the directory
# must arrive as text.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_TRIGGERS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([spreadsheet_safe(cell) for cell in row])
