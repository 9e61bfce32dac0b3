"""What a dashboard section hands its template and its CSV export: figures, charts and tables.

A section builds these once; the page shows each chart beside a table of
the same numbers (the chart's accessible version), and the CSV export writes
the same tables. Every number can carry the link to the referral list that
reproduces it.
"""

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
