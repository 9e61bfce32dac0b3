"""The dashboards' figures, read from the rollups in a fixed number of queries each.

Every figure counts the referrals received in the period (the organization's
days) within the filters, and the same for the period before; revenue is
what those referrals have billed and collected so far. Each builder returns
a `SectionData` whose numbers link to the referral list that reproduces them.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    Exists,
    Expression,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Window,
)
from django.db.models.functions import Coalesce, Rank, TruncMonth, TruncWeek
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from clinics.models import Clinic, Payer
from letters.selectors import loop_days_get
from outcomes.instruments import INSTRUMENTS
from outcomes.selectors import NPS_GROUPS, NpsSummary
from outreach.models import Flag, FlagKind, TouchKind
from physicians.models import Affiliation, Physician, Practice
from physicians.taxonomy import taxonomy_label
from referrals.models import OPEN_STATUSES, LossReason, PlanOfCare, Status
from referrals.selectors import AT_OR_BEYOND, FUNNEL, referral_settings_get

from . import lift as lift_math
from .drilldown import (
    contact_late,
    loop_closed,
    loop_due,
    nps_condition,
    outcome_condition,
    plan_signed_within,
    statuses_at_step,
    waiting_late,
)
from .figures import Cell, Chart, Headline, SectionData, Series, Table, chart_of, number
from .filters import DashboardFilters, Period
from .models import ReferralFact, TouchDay

TOP_SOURCES = 15
TOP_GROUPS = 10
LIFT_WINDOW_DAYS = 60
# The most sources the lift compares (see `outreach_lift`).
LIFT_SOURCES = 1500
LOSS_STEPS = (Status.RECEIVED, Status.CONTACTED, Status.SCHEDULED, Status.EVALUATED)
STEP_NAMES: dict[str, str] = {
    Status.RECEIVED: "Received",
    Status.CONTACTED: "Contacted",
    Status.SCHEDULED: "Scheduled",
    Status.EVALUATED: "Evaluated",
    Status.DISCHARGED: "Discharged",
}
LOSS_CHOICE: dict[str, str] = {step: f"lost_{step}" for step in LOSS_STEPS}
REACHED_CHOICE: dict[str, str] = {step: f"reached_{step}" for step in FUNNEL[1:]}


def fact_reached(step: str) -> Q:
    """Facts of referrals that got at least as far as `step` (referrals.selectors.reached, on the facts)."""
    if step == Status.RECEIVED:
        return Q()
    return Q(**{f"{step}_at__isnull": False}) | Q(status__in=AT_OR_BEYOND[step])


def _share(part: int | None, whole: int | None) -> float | None:
    return round(100 * part / whole, 1) if part is not None and whole else None


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:g} %"


def _cents(value: Decimal | None) -> Decimal | None:
    """A sum of money to the cent (SQLite's decimal sums carry more places)."""
    return None if value is None else Decimal(value).quantize(Decimal("0.01"))


def _money(value: Decimal | float | None) -> str:
    return "—" if value is None else f"${value:,.0f}"


def _per(value: Decimal | int | None, count: int | None) -> Decimal | None:
    if value is None or not count:
        return None
    return (Decimal(value) / count).quantize(Decimal("0.01"))


def percentile(values: list[float], share: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont): 0.5 is the median."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _both_periods(filters: DashboardFilters) -> QuerySet[ReferralFact]:
    previous = filters.period.previous
    return filters.facts().filter(received_on__gte=previous.start, received_on__lte=filters.period.end)


def _physician_names(ids: Iterable[int | None]) -> dict[int, str]:
    """Each physician's name as a table shows it; namesakes in one table with their NPI."""
    wanted = {pk for pk in ids if pk is not None}
    physicians = list(Physician.objects.filter(pk__in=wanted)) if wanted else []
    named = Counter(physician.display_name for physician in physicians)
    return {
        physician.pk: physician.name_with_npi if named[physician.display_name] > 1 else physician.display_name
        for physician in physicians
    }


def _practice_names(ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {pk for pk in ids if pk is not None}
    return dict(Practice.objects.filter(pk__in=wanted).values_list("pk", "name")) if wanted else {}


# --- Pipeline ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Milestone:
    label: str
    field: str
    # The funnel filter of the referral list that lists the referrals timed.
    reached: str


MILESTONES = (
    Milestone("Time to contact", "contacted_at", "reached_contacted"),
    Milestone("Time to schedule", "scheduled_at", "reached_scheduled"),
    # Set once evaluated: the evaluation is the first visit.
    Milestone("Time to first visit", "first_visit_at", "reached_evaluated"),
)


def pipeline(filters: DashboardFilters) -> SectionData:
    """Open referrals by step and clinic; the funnel with its losses; times to each milestone; late contacts.

    Five queries: the open referrals, the funnel and late contacts of both
    periods, the loss reasons, the milestone times of both periods, the clinics' names.
    """
    current, previous = filters.period, filters.period.previous
    periods = {"now": current, "before": previous}
    aggregates: dict[str, Any] = {}
    for tag, period in periods.items():
        within = period.q()
        aggregates[f"{tag}_received"] = Count("pk", filter=within)
        for step in FUNNEL[1:]:
            aggregates[f"{tag}_{step}"] = Count("pk", filter=within & fact_reached(step))
        for step in LOSS_STEPS:
            aggregates[f"{tag}_lost_{step}"] = Count(
                "pk", filter=within & Q(status=Status.LOST, lost_after__in=statuses_at_step(step))
            )
        aggregates[f"{tag}_late"] = Count("pk", filter=within & contact_late())
    now = timezone.now()
    aggregates["waiting_late"] = Count("pk", filter=current.q() & waiting_late(now))
    counts = _both_periods(filters).aggregate(**aggregates)

    data = SectionData()
    received, before = counts["now_received"], counts["before_received"]
    evaluated = counts[f"now_{Status.EVALUATED}"]
    data.headlines = [
        Headline("Referrals received", received, before, filters.list_url()),
        Headline(
            "Evaluated",
            evaluated,
            counts[f"before_{Status.EVALUATED}"],
            filters.list_url(funnel=REACHED_CHOICE[Status.EVALUATED]),
        ),
        Headline(
            "Conversion (evaluated ÷ received)",
            _share(evaluated, received),
            _share(counts[f"before_{Status.EVALUATED}"], before),
            unit="percent",
        ),
        Headline(
            "Contacted after the deadline",
            counts["now_late"],
            counts["before_late"],
            filters.list_url(contact="late"),
            higher_is_better=False,
        ),
        Headline(
            "Waiting past the deadline now",
            counts["waiting_late"],
            None,
            filters.list_url(contact="waiting_late"),
            higher_is_better=False,
        ),
    ]

    funnel_rows = []
    for step in FUNNEL:
        reached_now = received if step == Status.RECEIVED else counts[f"now_{step}"]
        reached_before = before if step == Status.RECEIVED else counts[f"before_{step}"]
        lost_now = counts.get(f"now_lost_{step}")
        link = (
            filters.list_url() if step == Status.RECEIVED else filters.list_url(funnel=REACHED_CHOICE[step])
        )
        funnel_rows.append(
            [
                Cell(STEP_NAMES[step]),
                Cell(reached_now, link),
                Cell(_share(reached_now, received), shown=_percent(_share(reached_now, received))),
                Cell(lost_now, filters.list_url(funnel=LOSS_CHOICE[step]) if lost_now is not None else ""),
                Cell(_share(lost_now, reached_now), shown=_percent(_share(lost_now, reached_now))),
                Cell(reached_before, filters.list_url(previous, **_reached_narrowing(step))),
            ]
        )
    data.tables.append(
        Table(
            "funnel",
            "Funnel: how far the period's referrals got",
            [
                "Step",
                "Reached",
                "Share of received",
                "Lost at this step",
                "Share lost here",
                "Previous period",
            ],
            funnel_rows,
            note="A referral counts at every step it reached, even if lost later; "
            "“lost at this step” is lost before the next.",
        )
    )
    data.charts.append(
        chart_of(data.table("funnel"), "Funnel", "bar", {"This period": 1, "Previous period": 5})
    )

    reasons = dict(
        filters.facts()
        .filter(current.q(), status=Status.LOST)
        .values_list("loss_reason")
        .annotate(n=Count("pk"))
        .order_by()
    )
    reason_rows = [
        [
            Cell(label),
            Cell(reasons.get(value, 0), filters.list_url(status=Status.LOST, loss_reason=value)),
            Cell(
                _share(reasons.get(value, 0), received),
                shown=_percent(_share(reasons.get(value, 0), received)),
            ),
        ]
        for value, label in LossReason.choices
    ]
    data.tables.append(
        Table("loss_reasons", "Why referrals were lost", ["Reason", "Lost", "Share of received"], reason_rows)
    )
    data.charts.append(chart_of(data.table("loss_reasons"), "Loss reasons", "hbar", {"Lost": 1}))

    data.tables.append(_milestone_table(filters, periods))

    open_rows = list(
        filters.facts()
        .filter(status__in=OPEN_STATUSES)
        .values_list("clinic_id", "status")
        .annotate(n=Count("*"))
        .order_by()
    )
    clinics = dict(Clinic.objects.for_organization(filters.organization).values_list("pk", "name"))
    by_clinic: dict[int, dict[str, int]] = defaultdict(dict)
    for clinic_id, status, n in open_rows:
        by_clinic[clinic_id][status] = n
    table_rows = []
    for clinic_id in sorted(by_clinic, key=lambda pk: clinics.get(pk, "")):
        narrowing = {"clinic": clinic_id}
        scoped = filters.current_list_url  # open referrals, whenever received
        table_rows.append(
            [Cell(clinics.get(clinic_id, "—"))]
            + [
                Cell(by_clinic[clinic_id].get(status, 0), scoped(status=status, **narrowing))
                for status in OPEN_STATUSES
            ]
        )
    status_labels = [Status(status).label for status in OPEN_STATUSES]
    data.tables.append(
        Table(
            "open_by_clinic",
            "Open referrals now, by step and clinic",
            ["Clinic", *status_labels],
            table_rows,
            note="Every open referral, whenever it was received.",
            empty="No open referrals.",
        )
    )
    data.charts.append(
        Chart(
            "open_by_clinic",
            "Open referrals by step",
            "stacked",
            status_labels,
            [Series(row[0].text, [number(cell.value) for cell in row[1:]]) for row in table_rows],
            table="open_by_clinic",
        )
    )
    return data


def _reached_narrowing(step: str) -> dict[str, str]:
    return {} if step == Status.RECEIVED else {"funnel": REACHED_CHOICE[step]}


class PercentileCont(Aggregate):
    """PostgreSQL's percentile_cont over an expression; `share` 0.5 is the median."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(share)s) WITHIN GROUP (ORDER BY %(expressions)s)%(filter)s"
    output_field = FloatField()

    def __init__(self, expression: Expression, *, share: float, **extra: Any) -> None:
        super().__init__(expression, share=share, **extra)


def _days_after_receipt(field: str) -> Func:
    return Func(F(field) - F("received_at"), template="EXTRACT(EPOCH FROM %(expressions)s) / 86400.0")


def _milestone_days(filters: DashboardFilters, periods: Mapping[str, Period]) -> dict[str, float | None]:
    """`<period>_<field>_<50|90|n>` for each milestone and period, in one query.

    PostgreSQL computes the percentiles (percentile_cont); elsewhere the days
    are read and interpolated the same way here (`percentile`).
    """
    both = _both_periods(filters)
    if connection.vendor == "postgresql":
        figures: dict[str, Any] = {}
        for tag, period in periods.items():
            for milestone in MILESTONES:
                within = period.q() & Q(**{f"{milestone.field}__isnull": False})
                days = _days_after_receipt(milestone.field)
                figures[f"{tag}_{milestone.field}_n"] = Count("pk", filter=within)
                figures[f"{tag}_{milestone.field}_50"] = PercentileCont(days, share=0.5, filter=within)
                figures[f"{tag}_{milestone.field}_90"] = PercentileCont(days, share=0.9, filter=within)
        return both.aggregate(**figures)
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    current = periods["now"]
    for received_on, received_at, *moments in both.values_list(
        "received_on", "received_at", *(milestone.field for milestone in MILESTONES)
    ):
        tag = "now" if current.start <= received_on <= current.end else "before"
        for milestone, moment in zip(MILESTONES, moments, strict=True):
            if moment is not None:
                values[(tag, milestone.field)].append((moment - received_at).total_seconds() / 86400)
    computed: dict[str, float | None] = {}
    for (tag, field), spans in values.items():
        computed[f"{tag}_{field}_n"] = len(spans)
        computed[f"{tag}_{field}_50"] = percentile(spans, 0.5)
        computed[f"{tag}_{field}_90"] = percentile(spans, 0.9)
    return computed


def _milestone_table(filters: DashboardFilters, periods: Mapping[str, Period]) -> Table:
    """Median and 90th percentile of the days from receipt to each milestone, for both periods (one query)."""
    days = _milestone_days(filters, periods)
    table_rows = []
    for milestone in MILESTONES:
        field = milestone.field
        table_rows.append(
            [
                Cell(milestone.label),
                Cell(int(days.get(f"now_{field}_n") or 0), filters.list_url(funnel=milestone.reached)),
                _days_cell(days.get(f"now_{field}_50")),
                _days_cell(days.get(f"now_{field}_90")),
                _days_cell(days.get(f"before_{field}_50")),
                _days_cell(days.get(f"before_{field}_90")),
            ]
        )
    return Table(
        "milestones",
        "Days from receipt, in calendar days",
        [
            "Milestone",
            "Referrals that got there",
            "Median",
            "90th percentile",
            "Median before",
            "90th before",
        ],
        table_rows,
        note="Counted over the period's referrals that reached each milestone; the first visit is the "
        "evaluation's appointment.",
    )


def _days_cell(value: float | None) -> Cell:
    return Cell(None if value is None else round(value, 1), shown="—" if value is None else f"{value:.1f}")


# --- Sources -------------------------------------------------------------------------------------


def sources(filters: DashboardFilters) -> SectionData:
    """Volume by physician, practice and specialty; weekly and monthly trends; new, declining, lapsed sources.

    Nine queries whatever the volume: weekly and monthly trends, physicians,
    practices, specialties, new sources, open flags, and the physicians' and
    practices' names shown.
    """
    current, previous = filters.period, filters.period.previous
    data = SectionData()
    both = _both_periods(filters)
    now_q, before_q = current.q(), previous.q()

    # COUNT(*) rather than of a column: unfiltered, the (organization, day) index answers both trends alone.
    weekly = dict(
        filters.facts()
        .filter(now_q)
        .annotate(week=TruncWeek("received_on"))
        .values_list("week")
        .annotate(n=Count("*"))
        .order_by()
    )
    weeks = []
    start = current.start - timedelta(days=current.start.weekday())
    while start <= current.end:
        weeks.append(start)
        start += timedelta(days=7)
    week_rows = [
        [
            Cell(week.isoformat(), shown=week.strftime("%b %-d")),
            Cell(
                _as_int(weekly.get(week, weekly.get(_as_datetime(week)))),
                filters.list_url(
                    Period(start=max(week, current.start), end=min(week + timedelta(days=6), current.end))
                ),
            ),
        ]
        for week in weeks
    ]
    data.tables.append(
        Table("weekly", "Referrals per week (weeks start on Monday)", ["Week", "Referrals"], week_rows)
    )
    data.charts.append(chart_of(data.table("weekly"), "Referrals per week", "line", {"Referrals": 1}))

    year_start = date(current.end.year - 1, current.end.month, 1)
    monthly = dict(
        filters.facts()
        .filter(received_on__gte=year_start, received_on__lte=current.end)
        .annotate(month=TruncMonth("received_on"))
        .values_list("month")
        .annotate(n=Count("*"))
        .order_by()
    )
    month_rows = []
    month = year_start
    while month <= current.end:
        following = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
        month_rows.append(
            [
                Cell(month.isoformat()[:7], shown=month.strftime("%b %Y")),
                Cell(
                    _as_int(monthly.get(month, monthly.get(_as_datetime(month)))),
                    filters.list_url(
                        Period(start=month, end=min(following - timedelta(days=1), current.end))
                    ),
                ),
            ]
        )
        month = following
    data.tables.append(
        Table(
            "monthly",
            "Referrals per month, the 13 months to the period's end",
            ["Month", "Referrals"],
            month_rows,
        )
    )
    data.charts.append(chart_of(data.table("monthly"), "Referrals per month", "bar", {"Referrals": 1}))

    def grouped(field: str, limit: int | None = None) -> list[dict[str, Any]]:
        """The period's referrals by `field`: both periods' counts and the evaluated, busiest first."""
        rows = (
            both.exclude(Q(**{f"{field}__isnull": True}))
            .values(field)
            .annotate(
                now=Count("pk", filter=now_q),
                before=Count("pk", filter=before_q),
                evaluated=Count("pk", filter=now_q & fact_reached(Status.EVALUATED)),
            )
            .filter(Q(now__gt=0))
            .order_by("-now", field)
        )
        return list(rows[:limit] if limit else rows)

    physicians = grouped("physician_id", TOP_SOURCES)
    practices = grouped("practice_id", TOP_GROUPS)
    specialties = grouped("specialty")
    new = list(
        filters.facts()
        .filter(now_q, physician_id__isnull=False)
        .values("physician_id")
        .annotate(n=Count("pk"))
        .filter(
            ~Exists(
                ReferralFact.objects.filter(
                    organization=filters.organization,
                    physician_id=OuterRef("physician_id"),
                    received_on__lt=current.start,
                )
            )
        )
        .order_by("-n", "physician_id")
    )
    flags = list(
        Flag.objects.for_organization(filters.organization)
        .filter(closed_at__isnull=True, **_physician_scope(filters, "physician__"))
        .values("physician_id", "kind", "severity")
        .order_by("physician__last_name", "physician_id")
    )
    names = _physician_names([row["physician_id"] for row in physicians + new + flags])
    practice_names = _practice_names([row["practice_id"] for row in practices])

    def source_row(name: str, row: Mapping[str, Any], **narrowing: object) -> list[Cell]:
        return [
            Cell(name),
            Cell(row["now"], filters.list_url(**narrowing)),
            Cell(row["before"], filters.list_url(previous, **narrowing)),
            Cell(row["now"] - row["before"]),
            Cell(row["evaluated"], filters.list_url(funnel=REACHED_CHOICE[Status.EVALUATED], **narrowing)),
            Cell(_share(row["evaluated"], row["now"]), shown=_percent(_share(row["evaluated"], row["now"]))),
        ]

    columns = ["Source", "Referrals", "Previous period", "Change", "Evaluated", "Conversion"]
    physician_rows = [
        source_row(names.get(row["physician_id"], "—"), row, physician=row["physician_id"])
        for row in physicians
    ]
    data.tables.append(Table("top_physicians", f"Top {TOP_SOURCES} physicians", columns, physician_rows))
    data.charts.append(
        chart_of(
            data.table("top_physicians"), "Top physicians", "hbar", {"This period": 1, "Previous period": 2}
        )
    )
    data.tables.append(
        Table(
            "top_practices",
            f"Top {TOP_GROUPS} practices",
            ["Practice", *columns[1:]],
            [
                source_row(practice_names.get(row["practice_id"], "—"), row, practice=row["practice_id"])
                for row in practices
            ],
            note="Practices as each referral was attributed when it arrived.",
        )
    )
    specialty_rows = [
        source_row(taxonomy_label(row["specialty"]) or "No specialty", row, specialty=row["specialty"])
        for row in specialties
    ]
    data.tables.append(Table("specialties", "By specialty", ["Specialty", *columns[1:]], specialty_rows))
    data.charts.append(
        chart_of(data.table("specialties"), "Referrals by specialty", "hbar", {"This period": 1})
    )
    data.tables.append(
        Table(
            "new_sources",
            f"New sources: first referral ever in this period ({len(new)})",
            ["Physician", "Referrals"],
            [
                [
                    Cell(names.get(row["physician_id"], "—")),
                    Cell(row["n"], filters.list_url(physician=row["physician_id"])),
                ]
                for row in new[:TOP_SOURCES]
            ],
            empty="No physician referred for the first time in this period.",
        )
    )
    attention = reverse("outreach:attention")
    kind_labels = dict(FlagKind.choices)
    data.tables.append(
        Table(
            "flags",
            "Declining and lapsed sources now (the daily flags)",
            ["Physician", "Signal", "Severity"],
            [
                [
                    Cell(names.get(row["physician_id"], "—")),
                    Cell(kind_labels.get(row["kind"], row["kind"]), f"{attention}?kind={row['kind']}"),
                    Cell(row["severity"].replace("_", " ")),
                ]
                for row in flags[: TOP_SOURCES * 2]
            ],
            note=f"{sum(row['kind'] == FlagKind.REFERRALS_DECLINING for row in flags)} declining, "
            f"{sum(row['kind'] == FlagKind.CONTACT_LAPSED for row in flags)} with contact lapsed; "
            "the Attention page lists them all.",
            empty="No source is flagged.",
        )
    )
    data.headlines = [
        Headline("Referrals received", sum(_as_int(v) for v in weekly.values()), None, filters.list_url()),
        Headline("New sources", len(new)),
        Headline(
            "Sources declining",
            sum(row["kind"] == FlagKind.REFERRALS_DECLINING for row in flags),
            link=f"{attention}?kind={FlagKind.REFERRALS_DECLINING}",
            higher_is_better=False,
        ),
    ]
    return data


def _as_int(value: object) -> int:
    return int(value) if isinstance(value, int) else 0


def _as_datetime(day: date) -> datetime:
    """TruncWeek/TruncMonth of a date field give a date on SQLite and PostgreSQL alike; kept for either."""
    return datetime(day.year, day.month, day.day)


def _physician_scope(filters: DashboardFilters, prefix: str) -> dict[str, object]:
    """The owner and specialty filters on a physician reached through `prefix` (flags, touches)."""
    scope: dict[str, object] = {}
    if filters.owner is not None:
        scope[f"{prefix}owner_id"] = filters.owner.pk
    if filters.specialty:
        scope[f"{prefix}taxonomy_code"] = filters.specialty
    return scope


# --- Revenue -------------------------------------------------------------------------------------


def revenue(filters: DashboardFilters) -> SectionData:
    """Billed and collected by the period's referrals, per physician, practice, specialty and payer.

    Nine queries: totals of both periods, then physicians (ranked by collected,
    with each one's rank by count), practices, specialties, payers, each top
    physician's payer mix, and the physicians', practices' and payers' names.
    """
    current, previous = filters.period, filters.period.previous
    both = _both_periods(filters)
    sums: dict[str, Any] = {}
    for tag, period in (("now", current), ("before", previous)):
        within = period.q()
        sums[f"{tag}_referrals"] = Count("pk", filter=within)
        sums[f"{tag}_visits"] = Coalesce(Sum("visits", filter=within), 0)
        sums[f"{tag}_billed"] = Coalesce(Sum("billed", filter=within), Decimal(0))
        sums[f"{tag}_collected"] = Coalesce(Sum("collected", filter=within), Decimal(0))
    totals = both.aggregate(**sums)
    data = SectionData()
    data.headlines = [
        Headline(
            "Billed",
            _cents(totals["now_billed"]),
            _cents(totals["before_billed"]),
            filters.list_url(),
            unit="money",
        ),
        Headline(
            "Collected",
            _cents(totals["now_collected"]),
            _cents(totals["before_collected"]),
            filters.list_url(),
            unit="money",
        ),
        Headline(
            "Collected per referral",
            _per(totals["now_collected"], totals["now_referrals"]),
            _per(totals["before_collected"], totals["before_referrals"]),
            unit="money",
        ),
        Headline(
            "Visits per referral",
            _ratio(totals["now_visits"], totals["now_referrals"]),
            _ratio(totals["before_visits"], totals["before_referrals"]),
            unit="ratio",
        ),
    ]
    money = {
        "referrals": Count("pk"),
        "visits": Coalesce(Sum("visits"), 0),
        "billed": Coalesce(Sum("billed"), Decimal(0)),
        "collected": Coalesce(Sum("collected"), Decimal(0)),
    }
    in_period = filters.facts().filter(current.q())
    physicians = list(
        in_period.filter(physician_id__isnull=False)
        .values("physician_id")
        .annotate(**money)
        .annotate(rank_by_count=Window(Rank(), order_by=F("referrals").desc()))
        .order_by("-collected", "physician_id")[:TOP_SOURCES]
    )
    practices = list(
        in_period.filter(practice_id__isnull=False)
        .values("practice_id")
        .annotate(**money)
        .order_by("-collected", "practice_id")[:TOP_GROUPS]
    )
    specialties = list(in_period.values("specialty").annotate(**money).order_by("-collected", "specialty"))
    payers = list(in_period.values("payer_id").annotate(**money).order_by("-collected", "payer_id"))
    top_ids = [row["physician_id"] for row in physicians]
    mix = list(
        in_period.filter(physician_id__in=top_ids)
        .values("physician_id", "payer_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    names = _physician_names(top_ids)
    practice_names = _practice_names([row["practice_id"] for row in practices])
    payer_names = dict(Payer.objects.for_organization(filters.organization).values_list("pk", "name"))

    def money_row(name: str, row: Mapping[str, Any], **narrowing: object) -> list[Cell]:
        return [
            Cell(name),
            Cell(row["referrals"], filters.list_url(**narrowing)),
            Cell(row["visits"]),
            Cell(_cents(row["billed"]), shown=_money(row["billed"])),
            Cell(_cents(row["collected"]), shown=_money(row["collected"])),
            Cell(
                _per(row["collected"], row["referrals"]),
                shown=_money(_per(row["collected"], row["referrals"])),
            ),
            Cell(_ratio(row["visits"], row["referrals"])),
        ]

    columns = [
        "Source",
        "Referrals",
        "Visits",
        "Billed",
        "Collected",
        "Collected per referral",
        "Visits per referral",
    ]
    physician_rows = [
        [
            *money_row(names.get(row["physician_id"], "—"), row, physician=row["physician_id"]),
            Cell(row["rank_by_count"]),
        ]
        for row in physicians
    ]
    data.tables.append(
        Table(
            "revenue_physicians",
            f"Top {TOP_SOURCES} physicians by money collected",
            [*columns, "Rank by referrals"],
            physician_rows,
            note="What the period's referrals have billed and collected so far: a recent period has had "
            "less time to be paid than the one before it.",
        )
    )
    data.charts.append(
        chart_of(
            data.table("revenue_physicians"),
            "Collected and billed by physician",
            "hbar",
            {"Collected": 4, "Billed": 3},
            unit="money",
        )
    )
    data.tables.append(
        Table(
            "revenue_practices",
            f"Top {TOP_GROUPS} practices by money collected",
            ["Practice", *columns[1:]],
            [
                money_row(practice_names.get(row["practice_id"], "—"), row, practice=row["practice_id"])
                for row in practices
            ],
        )
    )
    data.tables.append(
        Table(
            "revenue_specialties",
            "By specialty",
            ["Specialty", *columns[1:]],
            [
                money_row(taxonomy_label(row["specialty"]) or "No specialty", row, specialty=row["specialty"])
                for row in specialties
            ],
        )
    )
    payer_rows = [
        money_row(payer_names.get(row["payer_id"], "No payer recorded"), row, payer=row["payer_id"])
        for row in payers
    ]
    data.tables.append(
        Table(
            "revenue_payers",
            "By payer (the referral's insurance at intake)",
            ["Payer", *columns[1:]],
            payer_rows,
        )
    )
    data.charts.append(
        chart_of(data.table("revenue_payers"), "Collected by payer", "hbar", {"Collected": 4}, unit="money")
    )
    data.tables.append(_payer_mix(filters, physicians, mix, names, payer_names))
    return data


def _ratio(part: int | None, whole: int | None) -> float | None:
    return round(part / whole, 1) if part is not None and whole else None


def _payer_mix(
    filters: DashboardFilters,
    physicians: Sequence[Mapping[str, Any]],
    mix: Sequence[Mapping[str, Any]],
    names: Mapping[int, str],
    payer_names: Mapping[int, str],
) -> Table:
    """Each top physician's referrals by payer, as shares of their referrals in the period."""
    counts: dict[int, dict[int | None, int]] = defaultdict(dict)
    totals: dict[int | None, int] = defaultdict(int)
    for row in mix:
        counts[row["physician_id"]][row["payer_id"]] = row["n"]
        totals[row["payer_id"]] += row["n"]
    payers = sorted(totals, key=lambda pk: (-totals[pk], payer_names.get(pk, "") if pk else "~"))[:5]
    rows = []
    for row in physicians:
        physician_id = row["physician_id"]
        mine = counts[physician_id]
        whole = sum(mine.values())
        cells = [Cell(names.get(physician_id, "—"))]
        for payer_id in payers:
            n = mine.get(payer_id, 0)
            cells.append(
                Cell(
                    _share(n, whole),
                    filters.list_url(physician=physician_id, payer=payer_id),
                    shown=_percent(_share(n, whole)),
                )
            )
        rest = whole - sum(mine.get(payer_id, 0) for payer_id in payers)
        cells.append(Cell(_share(rest, whole), shown=_percent(_share(rest, whole))))
        rows.append(cells)
    return Table(
        "payer_mix",
        "Payer mix of the top physicians (share of each one's referrals)",
        ["Physician", *(payer_names.get(pk, "No payer") if pk else "No payer" for pk in payers), "Other"],
        rows,
    )


# --- Outreach ------------------------------------------------------------------------------------

LIFT_CAVEAT = (
    "Read this with care. Liaisons touch sources that are slipping, so touched sources often start "
    "from a dip and recover on their own: the comparison with untouched sources of the same tier takes "
    "some of that out, not all of it. A handful of touches proves little: an interval that crosses zero "
    "means this period cannot tell a lift from chance. It shows what followed the touches, not what "
    "they caused."
)


def outreach(filters: DashboardFilters, *, window: int = LIFT_WINDOW_DAYS) -> SectionData:
    """Touches by kind and person, touches against referrals per source, and the outreach lift.

    At most nine queries: touches of both periods by kind and person, per
    source, the referrals of those sources and of the period, the people's
    and physicians' names, and for the lift the touch days, the referral days
    and the active sources' tiers. Touches have no clinic: the clinic filter
    does not narrow them.
    """
    current, previous = filters.period, filters.period.previous
    touch_days = TouchDay.objects.for_organization(filters.organization).filter(
        **_physician_scope(filters, "physician__")
    )
    periods = {"now": current.q("day"), "before": previous.q("day")}
    both = touch_days.filter(day__gte=previous.start, day__lte=current.end)
    # Both periods' touches by kind and person in one pass; the two tables are its margins.
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_made_by: dict[int | None, list[int]] = defaultdict(lambda: [0, 0])
    for cell in both.values("kind", "made_by_id").annotate(
        now=Coalesce(Sum("touches", filter=periods["now"]), 0),
        before=Coalesce(Sum("touches", filter=periods["before"]), 0),
    ):
        for totals in (by_kind[cell["kind"]], by_made_by[cell["made_by_id"]]):
            totals[0] += cell["now"]
            totals[1] += cell["before"]
    by_person: list[dict[str, Any]] = [
        {"made_by_id": made_by, "now": now, "before": before}
        for made_by, (now, before) in sorted(by_made_by.items(), key=lambda item: (-item[1][0], item[0] or 0))
    ]
    per_source = list(
        touch_days.filter(periods["now"], physician_id__isnull=False)
        .values("physician_id")
        .annotate(touches=Sum("touches"))
        .order_by("-touches", "physician_id")[:TOP_SOURCES]
    )
    referral_counts = dict(
        filters.facts()
        .filter(current.q(), physician_id__in=[row["physician_id"] for row in per_source])
        .values_list("physician_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    people = {
        user.pk: user.get_full_name() or user.username
        for user in User.objects.filter(pk__in=[row["made_by_id"] for row in by_person if row["made_by_id"]])
    }
    names = _physician_names([row["physician_id"] for row in per_source])

    data = SectionData()
    kind_rows = [
        [
            Cell(label),
            Cell(by_kind[kind][0], filters.touch_list_url(kind=kind)),
            Cell(by_kind[kind][1], filters.touch_list_url(previous, kind=kind)),
        ]
        for kind, label in TouchKind.choices
    ]
    data.tables.append(
        Table("touches_by_kind", "Touches by kind", ["Kind", "This period", "Previous period"], kind_rows)
    )
    data.charts.append(
        chart_of(
            data.table("touches_by_kind"), "Touches by kind", "bar", {"This period": 1, "Previous period": 2}
        )
    )
    data.tables.append(
        Table(
            "touches_by_person",
            "Touches by who made them",
            ["Person", "This period", "Previous period"],
            [
                [
                    Cell(people.get(row["made_by_id"], "Nobody recorded")),
                    # The list has no filter for touches nobody is recorded as making.
                    Cell(
                        row["now"],
                        filters.touch_list_url(made_by=row["made_by_id"]) if row["made_by_id"] else "",
                    ),
                    Cell(
                        row["before"],
                        filters.touch_list_url(previous, made_by=row["made_by_id"])
                        if row["made_by_id"]
                        else "",
                    ),
                ]
                for row in by_person
            ],
        )
    )
    source_rows = []
    for row in per_source:
        referred = referral_counts.get(row["physician_id"], 0)
        source_rows.append(
            [
                Cell(names.get(row["physician_id"], "—")),
                Cell(row["touches"], filters.touch_list_url(physician=row["physician_id"], named_only="on")),
                Cell(referred, filters.list_url(physician=row["physician_id"])),
                Cell(_ratio(referred, row["touches"])),
            ]
        )
    data.tables.append(
        Table(
            "touches_per_source",
            f"The {TOP_SOURCES} most touched physicians: touches against referrals",
            ["Physician", "Touches", "Referrals", "Referrals per touch"],
            source_rows,
        )
    )
    data.charts.append(
        chart_of(
            data.table("touches_per_source"),
            "Touches and referrals per physician",
            "hbar",
            {"Touches": 1, "Referrals": 2},
        )
    )
    kind_lift, person_lift = outreach_lift(filters, window=window, people=people)
    data.tables += [kind_lift, person_lift]
    data.charts.append(_lift_chart(kind_lift, "lift_by_kind", "Outreach lift by kind of touch"))
    data.notes.append(LIFT_CAVEAT)
    data.headlines = [
        Headline(
            "Touches",
            sum(now for now, _before in by_kind.values()),
            sum(before for _now, before in by_kind.values()),
            filters.touch_list_url(),
        ),
        Headline("Referrals received", filters.facts().filter(current.q()).count(), None, filters.list_url()),
    ]
    return data


@dataclass(frozen=True)
class _LiftInputs:
    """What the lift compares (see `outreach_lift`): read once, estimated per kind or per person."""

    tiers: dict[int, str]
    # (physician, day, kind, made by) of every touch day in reach.
    touches: Sequence[tuple[int, date, str, int | None]]
    referrals: lift_math.ReferralDays
    period: Period
    last_event_day: date
    window: int

    def estimate(self, touches: list[tuple[int, date]]) -> lift_math.Lift:
        """The lift of `touches`: those within the period are the events, all of them rule comparisons out."""
        touched: dict[int, list[date]] = defaultdict(list)
        for physician_id, day in touches:
            touched[physician_id].append(day)
        events = [(p, d) for p, d in touches if self.period.start <= d <= self.last_event_day]
        return lift_math.lift(
            events=lift_math.first_events(events),
            touched_days=touched,
            tiers=self.tiers,
            referrals=self.referrals,
            window=self.window,
        )

    def by_person(self, person_id: int) -> lift_math.Lift:
        return self.estimate([(p, d) for p, d, _, m in self.touches if m == person_id])


def _lift_inputs(filters: DashboardFilters, *, window: int) -> _LiftInputs:
    """The sources taking part, their touch days and their referral days: three queries."""
    current = filters.period
    last_event_day = min(current.end, filters.today - timedelta(days=window))
    span = timedelta(days=window)
    tiers = dict(
        Physician.objects.for_organization(filters.organization)
        .filter(is_active=True, **_physician_scope(filters, ""))
        .values_list("pk", "tier")
    )
    if len(tiers) > LIFT_SOURCES:
        drawn = sorted(tiers, key=_scrambled)[:LIFT_SOURCES]
        tiers = {pk: tiers[pk] for pk in drawn}
    touches = list(
        TouchDay.objects.for_organization(filters.organization)
        .filter(
            physician_id__in=list(tiers),
            day__gte=current.start - span,
            day__lte=last_event_day + span,
        )
        .values_list("physician_id", "day", "kind", "made_by_id")
    )
    referral_days: dict[int, list[date]] = defaultdict(list)
    for physician_id, day in (
        filters.facts()
        .filter(
            physician_id__in=list(tiers),
            received_on__gte=current.start - span,
            received_on__lt=last_event_day + span,
        )
        .values_list("physician_id", "received_on")
    ):
        referral_days[physician_id].append(day)
    return _LiftInputs(
        tiers=tiers,
        touches=touches,
        referrals=lift_math.ReferralDays(referral_days),
        period=current,
        last_event_day=last_event_day,
        window=window,
    )


def outreach_lift_by_person(
    filters: DashboardFilters, *, window: int, person_ids: Iterable[int]
) -> dict[int, lift_math.Lift]:
    """The lift of each person's touches (see `outreach_lift`), for many people at once: three queries."""
    inputs = _lift_inputs(filters, window=window)
    return {person_id: inputs.by_person(person_id) for person_id in person_ids}


def outreach_lift(
    filters: DashboardFilters, *, window: int, people: Mapping[int, str]
) -> tuple[Table, Table]:
    """The lift per touch kind and per person (see analytics/lift.py), from the rollups (3 queries).

    The sources taking part are the organization's active sources within the
    filters, or, beyond LIFT_SOURCES of them, the same LIFT_SOURCES drawn at
    random each time (touched and comparison sources alike): the work stays
    bounded whatever the directory's size, and the interval widens with the
    smaller number, as it should.
    """
    inputs = _lift_inputs(filters, window=window)
    touches, last_event_day = inputs.touches, inputs.last_event_day

    kind_rows = [
        _lift_row(label, inputs.estimate([(p, d) for p, d, k, _ in touches if k == kind]))
        for kind, label in TouchKind.choices
    ]
    person_rows = [
        _lift_row(people.get(person_id, "—"), inputs.by_person(person_id))
        for person_id in sorted({m for *_, m in touches if m}, key=lambda pk: people.get(pk, ""))
    ]
    columns = [
        "",
        "Touched sources",
        "Their change",
        "Comparison change",
        "Lift",
        "95 % interval",
        "Comparison sources (mean)",
        "Verdict",
    ]
    note = (
        f"Referrals per source in the {window} days after the first touch in the period against the "
        f"{window} days before, for touches on or before {last_event_day:%b %-d, %Y} (later ones have not "
        f"had {window} days yet), minus the same change for active sources of the same tier with no such "
        f"touch in those days. With more than {LIFT_SOURCES:,} active sources, {LIFT_SOURCES:,} of them, "
        "drawn at random, take part."
    )
    return (
        Table("lift_by_kind", "Outreach lift by kind of touch", ["Kind", *columns[1:]], kind_rows, note=note),
        Table(
            "lift_by_person",
            "Outreach lift by who made the touches",
            ["Person", *columns[1:]],
            person_rows,
            note=note,
        ),
    )


def _scrambled(pk: int) -> int:
    """A fixed pseudo-random order of ids (Knuth's multiplicative hash): the same draw on every visit."""
    return (pk * 2654435761) % 2**32


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _lift_row(label: str, result: lift_math.Lift) -> list[Cell]:
    interval = (
        f"{result.low:+.2f} to {result.high:+.2f}"
        if result.low is not None and result.high is not None
        else "—"
    )
    return [
        Cell(label),
        Cell(result.events),
        Cell(_rounded(result.mean_change)),
        Cell(_rounded(result.mean_comparison_change)),
        Cell(_rounded(result.estimate), shown="—" if result.estimate is None else f"{result.estimate:+.2f}"),
        Cell(interval),
        Cell(round(result.comparisons, 1)),
        Cell(result.verdict),
    ]


def _lift_chart(table: Table, key: str, title: str) -> Chart:
    """Only the rows with an estimate: a bar of nothing would read as no lift."""
    return chart_of(
        table,
        title,
        "bar",
        {"Lift (referrals per source)": 4},
        unit="ratio",
        key=key,
        rows=[row for row in table.rows if row[4].value is not None],
    )


# --- Plans of care -------------------------------------------------------------------------------


def plans(filters: DashboardFilters) -> SectionData:
    """First plans of care of the period's referrals: signed in time, late, unsigned; overdue now by practice.

    Four queries: the organization's rules, the plans of both periods, the
    unsigned overdue plans by the certifier's primary practice, and those practices' names.
    """
    rules = referral_settings_get(organization=filters.organization)
    days = rules.poc_signature_days
    current, previous = filters.period, filters.period.previous
    # Counted by a column of the index of facts with a plan, which answers alone when unfiltered.
    counted: dict[str, Any] = {}
    for tag, period in (("now", current), ("before", previous)):
        within = period.q()
        counted[f"{tag}_plans"] = Count("plan_starts_on", filter=within)
        counted[f"{tag}_in_time"] = Count("plan_starts_on", filter=within & plan_signed_within(days))
        counted[f"{tag}_late"] = Count(
            "plan_starts_on", filter=within & Q(plan_signed_on__isnull=False) & ~plan_signed_within(days)
        )
        counted[f"{tag}_unsigned"] = Count("plan_starts_on", filter=within & Q(plan_signed_on__isnull=True))
    counts = _both_periods(filters).filter(plan_starts_on__isnull=False).aggregate(**counted)
    data = SectionData()
    data.headlines = [
        Headline(
            "First plans of care", counts["now_plans"], counts["before_plans"], filters.list_url(plan="any")
        ),
        Headline(
            f"Signed within {days} days",
            _share(counts["now_in_time"], counts["now_plans"]),
            _share(counts["before_in_time"], counts["before_plans"]),
            filters.list_url(plan="in_time"),
            unit="percent",
        ),
    ]
    rows = [
        [
            Cell(label),
            Cell(counts[f"now_{key}"], filters.list_url(plan=key)),
            Cell(
                _share(counts[f"now_{key}"], counts["now_plans"]),
                shown=_percent(_share(counts[f"now_{key}"], counts["now_plans"])),
            ),
            Cell(counts[f"before_{key}"], filters.list_url(previous, plan=key)),
        ]
        for key, label in (
            ("in_time", f"Signed within {days} days"),
            ("late", "Signed later"),
            ("unsigned", "Not signed yet"),
        )
    ]
    data.tables.append(
        Table(
            "plans",
            "First plans of care of the period's referrals",
            ["Plan", "Plans", "Share", "Previous period"],
            rows,
            note=f"Counted from the first treatment day; {days} days is the organization's setting.",
        )
    )
    data.charts.append(
        chart_of(data.table("plans"), "First plans of care", "bar", {"This period": 1, "Previous period": 3})
    )
    primary_practice = Affiliation.objects.filter(
        physician_id=OuterRef("certifier_id"), is_primary=True
    ).values("practice_id")[:1]
    overdue = PlanOfCare.objects.for_organization(filters.organization).filter(
        signed_on__isnull=True,
        referral__status__in=OPEN_STATUSES,
        starts_on__lt=filters.today - timedelta(days=days),
    )
    if filters.clinic is not None:
        overdue = overdue.filter(referral__clinic=filters.clinic)
    if filters.owner is not None:
        overdue = overdue.filter(referral__physician__owner=filters.owner)
    if filters.specialty:
        overdue = overdue.filter(referral__referring_taxonomy_code=filters.specialty)
    by_practice = list(
        overdue.annotate(practice_id=Subquery(primary_practice))
        .values("practice_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "practice_id")
    )
    practice_names = _practice_names([row["practice_id"] for row in by_practice])
    plans_link = f"{reverse('referrals:plans_awaiting')}?status=overdue"
    practice_rows = [
        [Cell(practice_names.get(row["practice_id"], "No primary practice")), Cell(row["n"], plans_link)]
        for row in by_practice
    ]
    data.tables.append(
        Table(
            "overdue_by_practice",
            "Overdue for signature now, by the certifier's practice",
            ["Practice", "Plans overdue"],
            practice_rows,
            note="Unsigned plans of open referrals, whenever received, past the signature days.",
            empty="No plan is overdue.",
        )
    )
    data.charts.append(
        chart_of(data.table("overdue_by_practice"), "Overdue plans by practice", "hbar", {"Overdue": 1})
    )
    data.headlines.append(
        Headline(
            "Overdue now", sum(row["n"] for row in by_practice), None, plans_link, higher_is_better=False
        )
    )
    return data


# --- Outcomes and experience ---------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeTally:
    """What a group of referrals got from their care, counted from their facts.

    Each referral counts once, on its headline outcome
    (outcomes.selectors.headline_change): `measured` have one, `judged` one
    with an MCID verdict, `reached` reached it. `mean_change` is the mean
    improvement as a share of each measure's range, so scales compare. The
    NPS is the outcomes app's formula over the answers. `loop_due` are the
    evaluated referrals owed a letter for `loop_days` or more, `loop_closed`
    those whose letter left within them.
    """

    referrals: int
    measured: int
    mean_change: float | None
    judged: int
    reached: int
    nps: NpsSummary
    loop_due: int
    loop_closed: int

    @property
    def share_reached(self) -> float | None:
        return _share(self.reached, self.judged)

    @property
    def loop_rate(self) -> float | None:
        return _share(self.loop_closed, self.loop_due)


def _outcome_aggregates(*, loop: Q, closed: Q, within: Q | None = None, prefix: str = "") -> dict[str, Any]:
    """The aggregates behind an `OutcomeTally`, of the facts within `within`, named `<prefix><figure>`."""
    within = within or Q()
    figures: dict[str, Any] = {
        "referrals": Count("pk", filter=within),
        "measured": Count("pk", filter=within & outcome_condition("measured")),
        "mean_change": Avg("outcome_share_of_range", filter=within),
        "judged": Count("pk", filter=within & outcome_condition("judged")),
        "reached": Count("pk", filter=within & outcome_condition("reached")),
        "answered": Count("pk", filter=within & nps_condition("answered")),
        "loop_due": Count("pk", filter=within & loop),
        "loop_closed": Count("pk", filter=within & loop & closed),
    }
    for group in NPS_GROUPS:
        figures[f"nps_{group}"] = Count("pk", filter=within & nps_condition(group))
    return {f"{prefix}{name}": aggregate for name, aggregate in figures.items()}


def _tally(row: Mapping[str, Any], prefix: str = "") -> OutcomeTally:
    mean = row[f"{prefix}mean_change"]
    return OutcomeTally(
        referrals=row[f"{prefix}referrals"],
        measured=row[f"{prefix}measured"],
        mean_change=None if mean is None else round(float(mean), 1),
        judged=row[f"{prefix}judged"],
        reached=row[f"{prefix}reached"],
        nps=NpsSummary(
            promoters=row[f"{prefix}nps_promoter"],
            passives=row[f"{prefix}nps_passive"],
            detractors=row[f"{prefix}nps_detractor"],
        ),
        loop_due=row[f"{prefix}loop_due"],
        loop_closed=row[f"{prefix}loop_closed"],
    )


def _of(part: int, whole: int) -> str:
    """ "75 % (3 of 4)", or "—" when there is nothing to count."""
    share = _share(part, whole)
    return "—" if share is None else f"{share:g} % ({part} of {whole})"


def _change(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f}"


def outcomes(filters: DashboardFilters) -> SectionData:
    """Outcome change, MCID share, NPS and the letter after the evaluation, per physician, practice,
    specialty and clinic, and per measure, of the period's referrals.

    Ten queries whatever the volume: the letter rules, the headline figures of
    both periods, the physicians, practices, specialties, clinics and
    measures, and the physicians', practices' and clinics' names.
    """
    current, previous = filters.period, filters.period.previous
    days = loop_days_get(organization=filters.organization)
    loop = loop_due(organization=filters.organization, now=timezone.now(), days=days)
    closed = loop_closed(days)
    both = _both_periods(filters).aggregate(
        **_outcome_aggregates(loop=loop, closed=closed, within=current.q(), prefix="now_"),
        **_outcome_aggregates(loop=loop, closed=closed, within=previous.q(), prefix="before_"),
    )
    now, before = _tally(both, "now_"), _tally(both, "before_")
    letter_label = f"Letter within {days} days of the evaluation"

    data = SectionData()
    data.headlines = [
        Headline("Outcomes measured", now.measured, before.measured, filters.list_url(outcome="measured")),
        Headline("Mean change (% of the scale)", now.mean_change, before.mean_change, unit="ratio"),
        Headline(
            "Reached the MCID",
            now.share_reached,
            before.share_reached,
            filters.list_url(outcome="reached"),
            unit="percent",
        ),
        # The NPS is no count of referrals: the answers it is computed from are the figure beside it.
        Headline("NPS", now.nps.score, before.nps.score),
        Headline("NPS answers", now.nps.answers, before.nps.answers, filters.list_url(nps="answered")),
        Headline(
            letter_label, now.loop_rate, before.loop_rate, filters.list_url(loop="closed"), unit="percent"
        ),
    ]

    in_period = filters.facts().filter(current.q())
    evidence = Q(measured__gt=0) | Q(answered__gt=0) | Q(loop_due__gt=0)

    def grouped(field: str, limit: int | None = None) -> list[dict[str, Any]]:
        """The period's referrals by `field` with anything to show, most referrals first."""
        rows = (
            in_period.values(field)
            .annotate(**_outcome_aggregates(loop=loop, closed=closed))
            .filter(evidence)
            .order_by("-referrals", field)
        )
        return list(rows[:limit] if limit else rows)

    physicians = grouped("physician_id", TOP_SOURCES)
    practices = grouped("practice_id", TOP_GROUPS)
    specialties = grouped("specialty")
    clinic_rows = grouped("clinic_id")
    names = _physician_names([row["physician_id"] for row in physicians])
    practice_names = _practice_names([row["practice_id"] for row in practices])
    clinic_names = dict(
        Clinic.objects.for_organization(filters.organization)
        .filter(pk__in=[row["clinic_id"] for row in clinic_rows])
        .values_list("pk", "name")
    )

    def outcome_row(name: str, tally: OutcomeTally, **narrowing: object) -> list[Cell]:
        return [
            Cell(name),
            Cell(tally.referrals, filters.list_url(**narrowing)),
            Cell(tally.measured, filters.list_url(outcome="measured", **narrowing)),
            Cell(
                tally.mean_change,
                filters.list_url(outcome="measured", **narrowing) if tally.measured else "",
                shown=_change(tally.mean_change),
            ),
            Cell(
                tally.share_reached,
                filters.list_url(outcome="reached", **narrowing) if tally.judged else "",
                shown=_of(tally.reached, tally.judged),
            ),
            Cell(tally.nps.score, shown="—" if tally.nps.score is None else f"{tally.nps.score:+d}"),
            Cell(tally.nps.answers, filters.list_url(nps="answered", **narrowing)),
            Cell(
                tally.loop_rate,
                filters.list_url(loop="closed", **narrowing) if tally.loop_due else "",
                shown=_of(tally.loop_closed, tally.loop_due),
            ),
        ]

    columns = [
        "Source",
        "Referrals",
        "Outcomes measured",
        "Mean change (% of the scale)",
        "Reached the MCID",
        "NPS",
        "NPS answers",
        letter_label,
    ]
    physician_rows = [
        outcome_row(names.get(row["physician_id"], "—"), _tally(row), physician=row["physician_id"])
        for row in physicians
        if row["physician_id"] is not None
    ]
    data.tables.append(
        Table(
            "outcome_physicians",
            f"The {TOP_SOURCES} physicians with the most referrals: outcomes and experience",
            ["Physician", *columns[1:]],
            physician_rows,
            note="Each patient counts once, on their headline measure: the first in the clinic's list of "
            "measures with a published MCID, else the first measured. The mean change is the improvement "
            "as a share of each measure's range, so different scales compare; the measures' own points "
            "are in the table by measure. Care takes weeks: a recent period has fewer outcomes yet.",
        )
    )
    data.charts.append(
        chart_of(
            data.table("outcome_physicians"),
            "Reaching the MCID and letters in time, by physician",
            "hbar",
            {"Reached the MCID": 4, letter_label: 7},
            unit="percent",
        )
    )
    data.tables.append(
        Table(
            "outcome_practices",
            f"The {TOP_GROUPS} practices with the most referrals",
            ["Practice", *columns[1:]],
            [
                outcome_row(
                    practice_names.get(row["practice_id"], "—"), _tally(row), practice=row["practice_id"]
                )
                for row in practices
                if row["practice_id"] is not None
            ],
            note="Practices as each referral was attributed when it arrived.",
        )
    )
    specialty_rows = [
        outcome_row(
            taxonomy_label(row["specialty"]) or "No specialty", _tally(row), specialty=row["specialty"]
        )
        for row in specialties
    ]
    data.tables.append(
        Table("outcome_specialties", "By specialty", ["Specialty", *columns[1:]], specialty_rows)
    )
    data.charts.append(
        chart_of(data.table("outcome_specialties"), "NPS by specialty", "hbar", {"NPS": 5}, unit="ratio")
    )
    data.tables.append(
        Table(
            "outcome_clinics",
            "By clinic",
            ["Clinic", *columns[1:]],
            [
                outcome_row(clinic_names.get(row["clinic_id"], "—"), _tally(row), clinic=row["clinic_id"])
                for row in sorted(clinic_rows, key=lambda row: clinic_names.get(row["clinic_id"], ""))
            ],
        )
    )
    data.tables.append(_nps_groups(filters, now.nps, before.nps))
    data.charts.append(
        chart_of(
            data.table("nps_groups"), "NPS answers by group", "bar", {"This period": 1, "Previous period": 3}
        )
    )
    measures = _measures_table(filters, in_period)
    data.tables.append(measures)
    data.charts.append(
        chart_of(
            data.table("outcome_measures"),
            "Share reaching the MCID, by measure",
            "hbar",
            {"Reached the MCID": 5},
            unit="percent",
        )
    )
    return data


NPS_GROUP_LABELS = {
    "promoter": "Promoters (9–10)",
    "passive": "Passives (7–8)",
    "detractor": "Detractors (0–6)",
}


def _nps_groups(filters: DashboardFilters, now: NpsSummary, before: NpsSummary) -> Table:
    """The answers by group, both periods: the parts the NPS is computed from."""
    counts = {
        "promoter": (now.promoters, before.promoters),
        "passive": (now.passives, before.passives),
        "detractor": (now.detractors, before.detractors),
    }
    previous = filters.period.previous
    rows = [
        [
            Cell(label),
            Cell(counts[group][0], filters.list_url(nps=group)),
            Cell(
                _share(counts[group][0], now.answers), shown=_percent(_share(counts[group][0], now.answers))
            ),
            Cell(counts[group][1], filters.list_url(previous, nps=group)),
        ]
        for group, label in NPS_GROUP_LABELS.items()
    ]
    return Table(
        "nps_groups",
        "NPS answers: promoters, passives, detractors",
        ["Group", "This period", "Share", "Previous period"],
        rows,
        note="NPS = % promoters − % detractors, from −100 to +100; passives count in the total. "
        "No published benchmark for physical therapy is shown, as none exists.",
        empty="No patient answered in this period.",
    )


def _measures_table(filters: DashboardFilters, in_period: QuerySet[ReferralFact]) -> Table:
    """Each measure's patients (as their headline measure): mean change in its own points and MCID share."""
    found = {
        row["outcome_instrument"]: row
        for row in in_period.exclude(outcome_instrument="")
        .values("outcome_instrument")
        .annotate(
            patients=Count("pk"),
            mean=Avg("outcome_improvement"),
            judged=Count("pk", filter=outcome_condition("judged")),
            reached=Count("pk", filter=outcome_condition("reached")),
        )
        .order_by()
    }
    rows = []
    for measure in INSTRUMENTS:
        row = found.get(measure.code)
        if row is None:
            continue
        mean = None if row["mean"] is None else round(float(row["mean"]), 1)
        rows.append(
            [
                Cell(measure.name),
                Cell(row["patients"], filters.list_url(measure=measure.code)),
                Cell(mean, shown=_change(mean)),
                Cell(measure.mcid_label or "None published"),
                Cell(
                    row["judged"],
                    filters.list_url(measure=measure.code, outcome="judged") if row["judged"] else "",
                ),
                Cell(
                    _share(row["reached"], row["judged"]),
                    filters.list_url(measure=measure.code, outcome="reached") if row["judged"] else "",
                    shown=_of(row["reached"], row["judged"]) if measure.has_mcid else "No verdict",
                ),
            ]
        )
    return Table(
        "outcome_measures",
        "By measure: the change in each measure's own points",
        ["Measure", "Patients", "Mean change (points)", "MCID", "With a verdict", "Reached the MCID"],
        rows,
        note="A positive change is an improvement, whichever way the scale runs. Measures without a "
        "published MCID show their change without a verdict.",
        empty="No outcome measured for this period's referrals yet.",
    )


# --- Sources by owner (the weekly digests) ------------------------------------------------------------


@dataclass(frozen=True)
class SourceTrend:
    """A physician's referrals in the period against the period before, and the list behind them."""

    physician_id: int
    name: str
    now: int
    before: int
    link: str

    @property
    def change(self) -> int:
        return self.now - self.before


@dataclass(frozen=True)
class OwnerSources:
    # The owner's busiest sources of the period, busiest first.
    top: list[SourceTrend]
    # Physicians whose first referral ever came in the period.
    new: list[SourceTrend]


def sources_by_owner(filters: DashboardFilters, *, limit: int) -> dict[int, OwnerSources]:
    """Each source owner's top `limit` physicians and new sources of the period, as `sources` counts them.

    For every owner at once, in three queries (counts by physician of both
    periods, new sources, names); an owner with nothing is absent.
    """
    current, previous = filters.period, filters.period.previous
    now_q = current.q()
    rows = list(
        _both_periods(filters)
        .filter(physician_id__isnull=False, physician__owner_id__isnull=False)
        .values("physician_id", "physician__owner_id")
        .annotate(now=Count("pk", filter=now_q), before=Count("pk", filter=previous.q()))
        .filter(Q(now__gt=0) | Q(before__gt=0))
        .order_by("-now", "physician_id")
    )
    new_ids = set(
        filters.facts()
        .filter(now_q, physician_id__isnull=False)
        .filter(
            ~Exists(
                ReferralFact.objects.filter(
                    organization=filters.organization,
                    physician_id=OuterRef("physician_id"),
                    received_on__lt=current.start,
                )
            )
        )
        .values_list("physician_id", flat=True)
    )
    names = _physician_names([row["physician_id"] for row in rows])
    found: dict[int, OwnerSources] = {}
    for row in rows:
        owner = found.setdefault(row["physician__owner_id"], OwnerSources(top=[], new=[]))
        trend = SourceTrend(
            physician_id=row["physician_id"],
            name=names.get(row["physician_id"], "—"),
            now=row["now"],
            before=row["before"],
            link=filters.list_url(physician=row["physician_id"]),
        )
        if row["now"] and len(owner.top) < limit:
            owner.top.append(trend)
        if row["physician_id"] in new_ids:
            owner.new.append(trend)
    return found
