import datetime
import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone

from accounts.models import User
from clinics.clock import local_date, local_day_bounds, organization_zone, recent_weeks
from clinics.models import Membership, Organization
from physicians.models import Affiliation, Gatekeeper

from .models import NOT_CONTACT_KINDS, CalendarFeed, FollowUp, OutreachSettings, Touch, TouchKind
from .roles import OUTREACH

RECENTLY_COMPLETED_DAYS = 14
RECENTLY_COMPLETED_SHOWN = 20


def outreach_settings_get(*, organization: Organization) -> OutreachSettings:
    """The organization's tier cadences, made with the defaults the first time they are asked for.

    One query once the row exists. get_or_create, with the organization as
    the primary key, is safe when two requests make the row at once: the
    second insert fails and it reads the first one's row.
    """
    cadences, _ = OutreachSettings.objects.get_or_create(organization=organization)
    return cadences


@dataclass(frozen=True)
class TouchFilters:
    kind: str = ""
    made_by_id: int | None = None
    physician_id: int | None = None
    # Only the touches naming the physician, leaving out practice-level ones at their primary practice.
    physician_named_only: bool = False
    practice_id: int | None = None
    # The days, in the organization's zone, as the dashboards and liaison activity count them.
    since: datetime.date | None = None
    until: datetime.date | None = None
    # The owner and specialty of the physician touched: touches with only a practice have neither.
    owner_id: int | None = None
    specialty: str = ""


def _with_parties(queryset: QuerySet[Touch]) -> QuerySet[Touch]:
    return queryset.select_related("physician", "practice", "gatekeeper", "made_by", "logged_by")


def _physician_scope(organization: Organization, physician_id: int) -> Q:
    """Touches with the physician, and practice-level ones at their primary practice.

    The same touches that renew the physician's contact (outreach.flags), so
    the timeline explains the attention page.
    """
    primary = Affiliation.objects.filter(
        organization=organization, physician_id=physician_id, is_primary=True
    ).values("practice_id")
    return Q(physician_id=physician_id) | Q(practice_id__in=primary)


def _practice_scope(organization: Organization, practice_id: int) -> Q:
    """Touches with the practice, its gatekeepers, and its physicians when not met at another practice."""
    physicians = Affiliation.objects.filter(organization=organization, practice_id=practice_id).values(
        "physician_id"
    )
    gatekeepers = Gatekeeper.objects.filter(organization=organization, practice_id=practice_id).values("pk")
    return (
        Q(practice_id=practice_id)
        | Q(gatekeeper_id__in=gatekeepers)
        | (Q(physician_id__in=physicians) & Q(practice__isnull=True))
    )


def touch_list(*, organization: Organization, filters: TouchFilters) -> QuerySet[Touch]:
    touches = _with_parties(Touch.objects.for_organization(organization)).select_related("follow_up")
    if filters.kind:
        touches = touches.filter(kind=filters.kind)
    if filters.made_by_id:
        touches = touches.filter(made_by_id=filters.made_by_id)
    if filters.physician_id and filters.physician_named_only:
        touches = touches.filter(physician_id=filters.physician_id)
    elif filters.physician_id:
        touches = touches.filter(_physician_scope(organization, filters.physician_id))
    if filters.practice_id:
        touches = touches.filter(_practice_scope(organization, filters.practice_id))
    zone = organization_zone(organization)
    if filters.since:
        touches = touches.filter(occurred_at__gte=local_day_bounds(filters.since, zone)[0])
    if filters.until:
        touches = touches.filter(occurred_at__lt=local_day_bounds(filters.until, zone)[1])
    if filters.owner_id:
        touches = touches.filter(physician__owner_id=filters.owner_id)
    if filters.specialty:
        touches = touches.filter(physician__taxonomy_code=filters.specialty)
    return touches.order_by("-occurred_at", "-pk")


def physician_touches(*, organization: Organization, physician_id: int, limit: int) -> list[Touch]:
    touches = Touch.objects.for_organization(organization).filter(
        _physician_scope(organization, physician_id)
    )
    return list(_with_parties(touches).order_by("-occurred_at", "-pk")[:limit])


def practice_touches(*, organization: Organization, practice_id: int, limit: int) -> list[Touch]:
    touches = Touch.objects.for_organization(organization).filter(_practice_scope(organization, practice_id))
    return list(_with_parties(touches).order_by("-occurred_at", "-pk")[:limit])


def latest_contacts_since(
    *, organization: Organization, physician_ids: list[int], since: datetime.datetime
) -> dict[int, Touch]:
    """Each physician's latest direct contact since `since` (e.g. the start of today): one query."""
    touches = (
        Touch.objects.for_organization(organization)
        .filter(physician_id__in=physician_ids, occurred_at__gte=since)
        .exclude(kind__in=NOT_CONTACT_KINDS)
        .select_related("made_by")
        .order_by("physician_id", "-occurred_at", "-pk")
    )
    latest: dict[int, Touch] = {}
    for touch in touches:
        if touch.physician_id is not None:  # filtered on physician_id__in: always set
            latest.setdefault(touch.physician_id, touch)
    return latest


@dataclass(frozen=True)
class FollowUpGroups:
    overdue: list[FollowUp]
    today: list[FollowUp]
    upcoming: list[FollowUp]
    recently_completed: list[FollowUp]

    @property
    def open_count(self) -> int:
        return len(self.overdue) + len(self.today) + len(self.upcoming)


def followups_for(
    *, organization: Organization, user: User, today: datetime.date, everyone: bool = False
) -> FollowUpGroups:
    """The user's open follow-ups split around `today` (their local date), and the ones done lately.

    With `everyone`, the whole organization's, each with its owner (an admin's view of the team).
    """
    mine = FollowUp.objects.for_organization(organization).select_related(
        "touch__physician", "touch__practice", "touch__gatekeeper", "touch__made_by", "logged_touch"
    )
    mine = mine.select_related("owner") if everyone else mine.filter(owner=user)
    open_ones = list(mine.filter(completed_at__isnull=True).order_by("due_on", "pk"))
    completed_since = timezone.now() - datetime.timedelta(days=RECENTLY_COMPLETED_DAYS)
    recently_completed = list(
        mine.filter(completed_at__gte=completed_since).order_by("-completed_at", "-pk")[
            :RECENTLY_COMPLETED_SHOWN
        ]
    )
    return FollowUpGroups(
        overdue=[f for f in open_ones if f.due_on < today],
        today=[f for f in open_ones if f.due_on == today],
        upcoming=[f for f in open_ones if f.due_on > today],
        recently_completed=recently_completed,
    )


@dataclass(frozen=True)
class FollowUpCounts:
    overdue: int
    today: int
    everyone_overdue: int
    everyone_today: int


def followup_counts(*, organization: Organization, user: User, today: datetime.date) -> FollowUpCounts:
    """Open follow-ups overdue and due on `today`, the user's and everyone's, as `followups_for` splits them.

    One query.
    """
    overdue, due_today, mine = Q(due_on__lt=today), Q(due_on=today), Q(owner=user)
    counts = (
        FollowUp.objects.for_organization(organization)
        .filter(completed_at__isnull=True, due_on__lte=today)
        .aggregate(
            overdue=Count("pk", filter=mine & overdue),
            today=Count("pk", filter=mine & due_today),
            everyone_overdue=Count("pk", filter=overdue),
            everyone_today=Count("pk", filter=due_today),
        )
    )
    return FollowUpCounts(**counts)


def calendar_token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def calendar_feed_live(*, organization: Organization, user: User) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(organization=organization, user=user, revoked_at__isnull=True).first()


def calendar_membership_for_token(*, token: str) -> Membership | None:
    """The membership whose live calendar address this is, while it still gives access to follow-ups."""
    feed = CalendarFeed.objects.filter(
        token_digest=calendar_token_digest(token), revoked_at__isnull=True
    ).first()
    if feed is None:
        return None
    return (
        Membership.objects.filter(
            organization_id=feed.organization_id,
            user_id=feed.user_id,
            is_active=True,
            user__is_active=True,
            role__in=OUTREACH,
        )
        .select_related("organization", "user", "home_clinic")
        .first()
    )


def calendar_followups(*, organization: Organization, user: User, due_from: datetime.date) -> list[FollowUp]:
    return list(
        FollowUp.objects.for_organization(organization)
        .filter(owner=user, completed_at__isnull=True, due_on__gte=due_from)
        .select_related("touch__physician", "touch__practice", "touch__gatekeeper")
        .order_by("due_on", "pk")
    )


@dataclass(frozen=True)
class ActivityRow:
    week: datetime.date
    counts: list[int]
    total: int


@dataclass(frozen=True)
class ActivityTable:
    """Touches per week (rows, newest first) and per column (a kind or a person)."""

    columns: list[str]
    rows: list[ActivityRow]
    totals: list[int]
    total: int


@dataclass(frozen=True)
class Activity:
    weeks: list[datetime.date]
    current_week: datetime.date
    by_kind: ActivityTable
    by_person: ActivityTable
    # Who each column of `by_person` is (None: not recorded), to find a person's own counts.
    person_ids: list[int | None]


def _person_label(row: Mapping[str, Any]) -> str:
    if row["made_by_id"] is None:
        return "Not recorded"
    name = " ".join(p for p in (row["made_by__first_name"], row["made_by__last_name"]) if p)
    return name or row["made_by__username"]


def _table[ColumnT](
    weeks: list[datetime.date], counts: Counter[tuple[datetime.date, ColumnT]], columns: list[ColumnT]
) -> tuple[list[ActivityRow], list[int]]:
    rows = []
    for week in weeks:
        cells = [counts[week, column] for column in columns]
        rows.append(ActivityRow(week=week, counts=cells, total=sum(cells)))
    totals = [sum(counts[week, column] for week in weeks) for column in columns]
    return rows, totals


def touch_activity_by_week(*, organization: Organization, weeks: int, now: datetime.datetime) -> Activity:
    """Touches per week for the last `weeks` weeks, Monday to Sunday in the organization's zone.

    The organization's, not the viewer's (clinics/clock.py): everyone sees the
    same counts, as the digests and analytics built on them will.

    1. One grouped query counts touches per (week, kind, person); the database
       truncates to the week in the organization's zone.
    2. The two tables are sums of those counts, so they always agree.
    Service announcements are left out: a broadcast to eighty sources is not
    eighty conversations.
    """
    zone = organization_zone(organization)
    week_starts = recent_weeks(local_date(now, zone), weeks)
    current_week = week_starts[0]
    start, _ = local_day_bounds(week_starts[-1], zone)
    _, end = local_day_bounds(current_week + datetime.timedelta(days=6), zone)
    grouped = (
        Touch.objects.for_organization(organization)
        .filter(occurred_at__gte=start, occurred_at__lt=end)
        .exclude(kind__in=NOT_CONTACT_KINDS)
        .annotate(week=TruncWeek("occurred_at", tzinfo=zone))
        .values(
            "week", "kind", "made_by_id", "made_by__first_name", "made_by__last_name", "made_by__username"
        )
        .annotate(touches=Count("pk"))
        .order_by()
    )
    by_kind: Counter[tuple[datetime.date, str]] = Counter()
    by_person: Counter[tuple[datetime.date, int | None]] = Counter()
    labels: dict[int | None, str] = {}
    for row in grouped:
        week = row["week"]
        week = timezone.localtime(week, zone).date() if isinstance(week, datetime.datetime) else week
        by_kind[week, row["kind"]] += row["touches"]
        by_person[week, row["made_by_id"]] += row["touches"]
        labels[row["made_by_id"]] = _person_label(row)

    present = {kind for _, kind in by_kind}
    kinds = [value for value in TouchKind.values if value in present]
    kind_rows, kind_totals = _table(week_starts, by_kind, kinds)
    people = sorted(labels, key=lambda pk: (-sum(by_person[w, pk] for w in week_starts), labels[pk]))
    person_rows, person_totals = _table(week_starts, by_person, people)
    return Activity(
        weeks=week_starts,
        current_week=current_week,
        by_kind=ActivityTable(
            columns=[TouchKind(kind).label for kind in kinds],
            rows=kind_rows,
            totals=kind_totals,
            total=sum(kind_totals),
        ),
        by_person=ActivityTable(
            columns=[labels[pk] for pk in people],
            rows=person_rows,
            totals=person_totals,
            total=sum(person_totals),
        ),
        person_ids=people,
    )
