"""What a dashboard section hands its template and its CSV export: figures, charts and tables.

A section builds these once; the page shows each chart beside a table of
the same numbers (the chart's accessible version), and the CSV export writes
the same tables. Every number can carry the link to the referral list that
reproduces it.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

Number = int | float | Decimal | None


@dataclass(frozen=True)
class Cell:
    """One value of a table: what is shown, the number behind it (for the CSV), and its drill-down."""

    value: object
    link: str = ""
    # Shown instead of `value` when set ("$1,200", "42 %"); the CSV writes `value`.
    shown: str = ""

    @property
    def text(self) -> str:
        if self.shown:
            return self.shown
        return "—" if self.value is None else str(self.value)


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    note: str = ""
    # The first column names each row (a source, a week): a row header for screen readers.
    empty: str = "Nothing in this period."


@dataclass(frozen=True)
class Series:
    name: str
    values: list[Number]


@dataclass(frozen=True)
class Chart:
    """A chart drawn from `labels` and `series`; `table` is the key of the table with the same numbers."""

    key: str
    title: str
    kind: str  # "bar", "hbar", "line" or "stacked"
    labels: list[str]
    series: list[Series]
    table: str
    # "count", "money", "percent" or "days": how the axis and tooltips format values.
    unit: str = "count"

    def as_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "title": self.title,
            "labels": self.labels,
            "unit": self.unit,
            "series": [
                {"name": series.name, "values": [None if v is None else float(v) for v in series.values]}
                for series in self.series
            ],
        }


def chart_of(
    table: Table,
    title: str,
    kind: str,
    series: Mapping[str, int],
    *,
    unit: str = "count",
    key: str = "",
    rows: Sequence[Sequence[Cell]] | None = None,
) -> Chart:
    """A chart drawn from `table`'s own cells, so the chart and its accessible table cannot disagree.

    The first column labels the bars; `series` names each line or bar set and
    the column it draws. `rows` draws some of the table's rows only.
    """
    drawn = table.rows if rows is None else rows
    return Chart(
        key or table.key,
        title,
        kind,
        [row[0].text for row in drawn],
        [Series(name, [number(row[column].value) for row in drawn]) for name, column in series.items()],
        table=table.key,
        unit=unit,
    )


def number(value: object) -> Number:
    """A cell's value as a chart draws it; a cell of words in a chart is a mistake in the section."""
    if value is None or (isinstance(value, int | float | Decimal) and not isinstance(value, bool)):
        return value
    raise TypeError(f"A chart draws numbers, not {value!r}")


@dataclass(frozen=True)
class Headline:
    """A headline number with the previous period's, and the list behind it."""

    label: str
    value: Number
    previous: Number = None
    link: str = ""
    unit: str = "count"
    # False when a rise is bad news (losses, days to contact): the change is coloured accordingly.
    higher_is_better: bool = True

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return float(self.value) - float(self.previous)


@dataclass
class SectionData:
    headlines: list[Headline] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def table(self, key: str) -> Table:
        return next(table for table in self.tables if table.key == key)
