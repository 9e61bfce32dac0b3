"""Writes the organization data export: one CSV per registered table and a README, into a ZIP.

Each table is read with one query (`values_list(...).iterator()`, a
server-side cursor on PostgreSQL) and streamed, chunk by chunk, into its
member of the ZIP: memory holds one chunk, whatever the organization's size.
Cells go through `csv_lines`, so nothing typed into Rapport runs as a
formula when the file is opened in a spreadsheet, and each CSV starts with a
byte-order mark, so Excel reads it as UTF-8, like the referral export.
"""

import datetime
import io
import json
import uuid
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from decimal import Decimal
from typing import IO

from django.db import models

from config.spreadsheets import csv_lines

from ..models import Organization
from .registry import ExcludedModel, ExportColumn, ExportTable, id_pointers


@dataclass(frozen=True)
class WrittenTable:
    table: ExportTable
    rows: int


def archive_write(
    *,
    out: IO[bytes],
    organization: Organization,
    tables: Sequence[ExportTable],
    excluded: Sequence[ExcludedModel],
    heading: str,
    chunk_size: int,
    progress: Callable[[int, int], None],
) -> list[WrittenTable]:
    """Writes every table of `organization` then the README into `out`.

    `progress(tables_done, rows_done)` is called after each chunk and each
    table: the caller saves it and renews its claim there.
    """
    written: list[WrittenTable] = []
    rows_done = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for table in tables:
            rows = 0
            # force_zip64: a table's size is not known before it is written, and may pass 4 GB.
            with archive.open(f"{table.name}.csv", "w", force_zip64=True) as member:
                text = io.TextIOWrapper(member, encoding="utf-8-sig", newline="")
                # Closed on the way out, so a run stopped midway closes its server-side
                # cursor while its transaction is still open, not at garbage collection.
                with closing(
                    csv_lines(
                        [column.header for column in table.columns], _rows(table, organization, chunk_size)
                    )
                ) as lines:
                    text.write(next(lines))
                    for line in lines:
                        text.write(line)
                        rows += 1
                        if rows % chunk_size == 0:
                            progress(len(written), rows_done + rows)
                text.flush()
                text.detach()
            rows_done += rows
            written.append(WrittenTable(table=table, rows=rows))
            progress(len(written), rows_done)
        archive.writestr("README.md", readme(heading=heading, written=written, excluded=excluded))
    return written


def _rows(table: ExportTable, organization: Organization, chunk_size: int) -> Iterator[list[object]]:
    lookups = [column.lookup for column in table.columns]
    values = table.rows(organization).order_by("pk").values_list(*lookups)
    for row in values.iterator(chunk_size=chunk_size):
        yield [_cell(value) for value in row]


def _cell(value: object) -> object:
    """A value as the README says it is written: times in UTC ISO 8601, JSON as JSON text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, int | float | Decimal | str):
        return value
    return str(value)


def readme(*, heading: str, written: Sequence[WrittenTable], excluded: Sequence[ExcludedModel]) -> str:
    """The ZIP's README.md: how the files are written, every table's columns, what is left out."""
    lines = [
        f"# {heading}",
        "",
        "Every table is a CSV file: UTF-8 with a byte-order mark, comma-separated, the first line",
        "naming the columns. Rows refer to each other by id: a column ending in `_id` holds the `id`",
        "of a row in the table its description names. Times are UTC in ISO 8601",
        "(`2026-03-02T14:30:00+00:00`), dates are `YYYY-MM-DD`, yes/no columns are `true` or `false`,",
        "lists and structured values are JSON text, and an empty cell is no value. A text cell that",
        "starts with `=`, `+`, `-` or `@` is written with a `'` in front, so that a spreadsheet shows it",
        "as text instead of running it as a formula.",
        "",
        "The tables are read one after another while Rapport is in use: a row added during the export",
        "may appear in a later table and not in an earlier one.",
        "",
        "## Tables",
        "",
        "| File | Rows | What it holds |",
        "| --- | ---: | --- |",
    ]
    lines += [
        f"| {item.table.name}.csv | {item.rows} | {_cell_text(item.table.description)} |" for item in written
    ]
    pointers = id_pointers()
    for item in written:
        lines += [
            "",
            f"## {item.table.name}.csv",
            "",
            item.table.description,
            "",
            "| Column | Meaning |",
            "| --- | --- |",
        ]
        lines += [
            f"| {column.header} | {_cell_text(column.description + _points_to(column, pointers))} |"
            for column in item.table.columns
        ]
    lines += [
        "",
        "## Left out",
        "",
        "Files (referral documents, imported spreadsheets) are described by their rows, not included;",
        "passwords, sign-in and link tokens and other secrets are never exported.",
        "",
    ]
    lines += [f"- {item.label}: {_cell_text(item.reason)}" for item in excluded]
    return "\n".join(lines) + "\n"


def _points_to(column: ExportColumn, pointers: dict[type[models.Model], str]) -> str:
    """Where to look up the row an id column names."""
    target = column.field.related_model
    if not column.field.is_relation or not isinstance(target, type):
        return ""
    where = pointers.get(target, f"{target._meta.verbose_name_plural}, not exported")
    return f" (an id: see {where})"


def _cell_text(text: str) -> str:
    # A Markdown table cell is one line, and a bar would end it.
    return " ".join(text.split()).replace("|", "\\|")
