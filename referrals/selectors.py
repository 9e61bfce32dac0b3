import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import reduce
from operator import or_
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, IntegerField, Min, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from clinics.clock import local_date, local_day_bounds, organization_zone
from clinics.models import Clinic, Organization
from physicians.models import Affiliation, Gatekeeper, Physician, Practice
from physicians.search import SIMILARITY_THRESHOLD, searchable, strict_word_similarity

from . import list_filters
from .models import (
    OPEN_STATUSES,
    AppointmentChange,
    ContactAttempt,
    ContactOutcome,
    PatientCorrection,
    PendingDocument,
    PlanOfCare,
    Referral,
    ReferralDocument,
    ReferralSettings,
    Status,
    StatusChange,
)
from .plans import PlanState, PlanStatus, plan_state
from .sla import business_days_waiting, contact_due_at, late_if_received_before

DUPLICATE_WINDOW = timedelta(days=30)


def referral_settings_get(*, organization: Organization) -> ReferralSettings:
    """The organization's referral rules, made with the defaults the first time they are asked for.

    One query once the row exists. get_or_create, with the organization as
    the primary key, is safe when two requests make the row at once: the
    second insert fails and it reads the first one's row.
    """
    rules, _ = ReferralSettings.objects.get_or_create(organization=organization)
    return rules


def referral_possible_duplicates(
    *,
    organization: Organization,
    first_name: str,
    last_name: str,
    birth_date: date,
    received_at: datetime,
    exclude_pk: int | None = None,
) -> QuerySet[Referral]:
    """Referrals of the same patient (name and date of birth) in the 30 days before this one."""
    queryset = Referral.objects.for_organization(organization).filter(
        patient_last_name__iexact=last_name.strip(),
        patient_first_name__iexact=first_name.strip(),
        patient_birth_date=birth_date,
        received_at__gte=received_at - DUPLICATE_WINDOW,
        received_at__lte=received_at + timedelta(days=1),
    )
    if exclude_pk:
        queryset = queryset.exclude(pk=exclude_pk)
    return queryset.select_related("physician", "clinic").order_by("-received_at")


QUEUES = {
    "needs_contact": (Status.RECEIVED,),
    "needs_scheduling": (Status.CONTACTED,),
    "awaiting_evaluation": (Status.SCHEDULED,),
}
QUEUE_TITLES = {
    "needs_contact": "Needs contact",
    "needs_scheduling": "Needs scheduling",
    "awaiting_evaluation": "Awaiting evaluation",
}
# The order each list walks in: a queue oldest first, the referral list newest first.
QUEUE_ORDER = ("received_at", "pk")
LIST_ORDER = ("-received_at", "-pk")
# The referral list's filter for `appointment_passed`: the home page's missed evaluations lead there.
APPOINTMENT_PASSED = "passed"
# What a referral may lack, as the list filters for it: the referring specialty, the payer.
MISSING = {
    "specialty": ("referring specialty", Q(referring_taxonomy_code="")),
    "payer": ("payer", Q(payer__isnull=True)),
}
MISSING_CHOICES = tuple((name, label) for name, (label, _condition) in MISSING.items())
# Where the front desk is still trying to reach the patient: to contact them, then to book.
REACHING_STATUSES = (Status.RECEIVED, Status.CONTACTED)


def _counted(attempts: QuerySet[ContactAttempt]) -> Coalesce:
    return Coalesce(
        Subquery(attempts.order_by().values("referral_id").annotate(n=Count("pk")).values("n")),
        0,
        output_field=IntegerField(),
    )


def with_contact_attempts(referrals: QuerySet[Referral]) -> QuerySet[Referral]:
    """Each referral with `attempt_count`, `last_attempt_at` and `unanswered_attempts`, in the same query.

    `unanswered_attempts` counts the attempts since the patient was last
    reached (all of them, if never): the ones that say the desk cannot reach
    them now. Correlated subqueries on the attempts' (organization, referral)
    index, so a page of referrals costs one query however many attempts each has.
    """
    attempts = ContactAttempt.objects.filter(
        organization_id=OuterRef("organization_id"), referral_id=OuterRef("pk")
    )
    reached = attempts.filter(outcome=ContactOutcome.REACHED).order_by("-attempted_at")
    return referrals.annotate(
        attempt_count=_counted(attempts),
        last_attempt_at=Subquery(attempts.order_by("-attempted_at").values("attempted_at")[:1]),
        last_reached_at=Subquery(reached.values("attempted_at")[:1]),
    ).annotate(
        unanswered_attempts=_counted(
            attempts.exclude(outcome=ContactOutcome.REACHED).filter(
                attempted_at__gte=Coalesce(OuterRef("last_reached_at"), OuterRef("received_at"))
            )
        )
    )


def suggests_unreachable(*, status: str, unanswered_attempts: int, rules: ReferralSettings) -> bool:
    """Whether the desk has tried enough times without reaching the patient to offer "lost: unreachable"."""
    return status in REACHING_STATUSES and unanswered_attempts >= rules.unreachable_after_attempts


@dataclass(frozen=True)
class QueueRow:
    referral: Referral
    business_days_waiting: int
    due_at: datetime
    overdue: bool
    # Annotated by `with_contact_attempts`.
    attempts: int
    last_attempt_at: datetime | None
    unanswered_attempts: int
    suggest_unreachable: bool
    # Scheduled, and the day of the first appointment is over with no evaluation recorded.
    appointment_passed: bool


def _queue_referrals(organization: Organization, name: str) -> QuerySet[Referral]:
    return (
        Referral.objects.for_organization(organization).filter(status__in=QUEUES[name]).order_by(*QUEUE_ORDER)
    )


def queue_referrals(
    *,
    organization: Organization,
    name: str,
    now: datetime,
    rules: ReferralSettings,
    late_only: bool = False,
) -> QuerySet[Referral]:
    """A work queue's referrals, oldest first, with what a row shows; slice or page it, then `queue_rows`.

    One query for any slice, whatever the number of attempts. `late_only`
    keeps the referrals past their contact deadline, by the same condition
    the home page counts them with (`late_for_contact`), in SQL, so a page of
    a long queue reads one page of rows.
    """
    referrals = _queue_referrals(organization, name)
    if late_only:
        referrals = referrals.filter(
            late_for_contact(
                timezones=clinic_timezones(organization=organization),
                now=now,
                business_days=rules.contact_sla_business_days,
            )
        )
    return with_contact_attempts(
        referrals.select_related("clinic", "physician", "payer", "first_appointment_clinic")
    )


def queue_rows(
    referrals: Iterable[Referral], *, name: str, now: datetime, rules: ReferralSettings
) -> list[QueueRow]:
    """Rows of `queue_referrals`, each with its age and contact deadline in its clinic's calendar.

    With the attempts to reach the patient so far, the latest, and whether
    enough have failed to offer marking the referral lost as unreachable.
    """
    rows = []
    for referral in referrals:
        tz = referral.clinic.timezone
        due = contact_due_at(
            referral.received_at, timezone_name=tz, business_days=rules.contact_sla_business_days
        )
        unanswered: int = referral.unanswered_attempts  # type: ignore[attr-defined]  # annotated
        rows.append(
            QueueRow(
                referral=referral,
                business_days_waiting=business_days_waiting(referral.received_at, now, timezone_name=tz),
                due_at=due,
                overdue=name == "needs_contact" and now > due,
                attempts=referral.attempt_count,  # type: ignore[attr-defined]  # annotated
                last_attempt_at=referral.last_attempt_at,  # type: ignore[attr-defined]  # annotated
                unanswered_attempts=unanswered,
                suggest_unreachable=suggests_unreachable(
                    status=referral.status, unanswered_attempts=unanswered, rules=rules
                ),
                appointment_passed=_appointment_day_over(referral, now),
            )
        )
    return rows


def _appointment_day_over(referral: Referral, now: datetime) -> bool:
    """`appointment_passed` for one referral, on its appointment clinic's clock."""
    appointment, clinic = referral.first_appointment_at, referral.first_appointment_clinic
    # Both or neither (the referrals_first_appointment_complete constraint).
    if referral.status != Status.SCHEDULED or appointment is None or clinic is None:
        return False
    zone = ZoneInfo(clinic.timezone)
    return local_date(appointment, zone) < local_date(now, zone)


def queue(
    *,
    organization: Organization,
    name: str,
    now: datetime | None = None,
    rules: ReferralSettings | None = None,
    limit: int | None = None,
) -> list[QueueRow]:
    """The first `limit` rows of a work queue (all of them without one), oldest first.

    A page showing several queues passes the organization's `rules` once.
    """
    now = now or timezone.now()
    rules = rules or referral_settings_get(organization=organization)
    referrals = queue_referrals(organization=organization, name=name, now=now, rules=rules)
    return queue_rows(referrals[:limit], name=name, now=now, rules=rules)


@dataclass(frozen=True)
class WorkList:
    """The list a referral was opened from, which "Next in queue" walks in that list's own order.

    A work queue (`queue`, one of QUEUES), or the referral list with its
    filters (`filters`, as `ReferralFilterForm.filters()` gives them). Both
    name statuses, clinics, physicians and dates, never a patient.
    """

    queue: str = ""
    filters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return QUEUE_TITLES[self.queue] if self.queue else "Referrals"


def _after(order: tuple[str, ...], referral: Referral) -> Q:
    """Rows that come after `referral` in `order` (two fields, each ascending or "-" descending)."""
    (first, second) = order
    first_name, second_name = first.lstrip("-"), second.lstrip("-")
    first_op = "lt" if first.startswith("-") else "gt"
    second_op = "lt" if second.startswith("-") else "gt"
    value = getattr(referral, first_name)
    return Q(**{f"{first_name}__{first_op}": value}) | Q(
        **{first_name: value, f"{second_name}__{second_op}": getattr(referral, second_name)}
    )


def worklist_next(*, organization: Organization, worklist: WorkList, after: Referral) -> int | None:
    """The id of the referral that follows `after` in its list, whether or not `after` is still in it.

    A referral just moved out of "Needs contact" keeps its place: the next is
    the one that came after it there. None at the end of the list.
    """
    if worklist.queue:
        referrals, order = _queue_referrals(organization, worklist.queue), QUEUE_ORDER
    else:
        referrals, order = referral_list(organization=organization, filters=worklist.filters), LIST_ORDER
    return referrals.filter(_after(order, after)).values_list("pk", flat=True).first()


def queue_counts(*, organization: Organization) -> dict[str, int]:
    """How many referrals each work queue holds, in one query the status index answers alone."""
    counts = dict(
        Referral.objects.for_organization(organization)
        .filter(status__in=[s for statuses in QUEUES.values() for s in statuses])
        .values_list("status")
        .annotate(n=Count("*"))
        .order_by()
    )
    return {name: sum(counts.get(s, 0) for s in statuses) for name, statuses in QUEUES.items()}


def clinic_timezones(*, organization: Organization) -> list[str]:
    """The zones of the organization's clinics, closed ones included: their referrals stay in the queues."""
    return sorted(
        Clinic.objects.for_organization(organization).order_by().values_list("timezone", flat=True).distinct()
    )


def late_for_contact(*, timezones: Iterable[str], now: datetime, business_days: int) -> Q:
    """Received referrals past their contact deadline at `now`, as the queue marks them (referrals/sla.py).

    The deadline is counted in each clinic's zone: one condition per zone.
    """
    late = [
        Q(
            clinic__timezone=zone,
            received_at__lt=late_if_received_before(now, timezone_name=zone, business_days=business_days),
        )
        for zone in timezones
    ]
    return Q(status=Status.RECEIVED) & reduce(or_, late, Q(pk__in=[]))


def appointment_passed(*, timezones: Iterable[str], now: datetime) -> Q:
    """Scheduled referrals whose first appointment fell on a day now over, on its clinic's clock.

    The evaluation was never recorded: the patient did not come, or came and
    nobody moved the referral on. Either way someone must look before the
    patient is lost. One condition per zone, as for `late_for_contact`.
    """
    passed = []
    for name in timezones:
        zone = ZoneInfo(name)
        today_starts = local_day_bounds(local_date(now, zone), zone)[0]
        passed.append(Q(first_appointment_clinic__timezone=name, first_appointment_at__lt=today_starts))
    return Q(status=Status.SCHEDULED) & reduce(or_, passed, Q(pk__in=[]))


@dataclass(frozen=True)
class ReferralWorkCounts:
    """The referrals waiting for someone, for the home page; the therapist's own in `my_…`."""

    late_for_contact: int
    to_contact: int
    to_schedule: int
    awaiting_evaluation: int
    my_awaiting_evaluation: int
    appointment_passed: int
    my_appointment_passed: int
    received_today: int


def referral_work_counts(
    *,
    organization: Organization,
    now: datetime,
    rules: ReferralSettings,
    timezones: Iterable[str],
    therapist_id: int,
) -> ReferralWorkCounts:
    """What the queues hold, what is late, what is scheduled (and missed) and today's intake, in one query.

    "Today" is the organization's day (clinics/clock.py); each count is what
    a list page shows: the queues (`queue_referrals`, the late ones with
    `late_only`), the referral list by status, by therapist, by a passed
    appointment and by the day received (`referral_list`).
    """
    zone = organization_zone(organization)
    today_starts, today_ends = local_day_bounds(now.astimezone(zone).date(), zone)
    today = Q(received_at__gte=today_starts, received_at__lt=today_ends)
    scheduled = Q(status=Status.SCHEDULED)
    passed = appointment_passed(timezones=timezones, now=now)
    counts = (
        Referral.objects.for_organization(organization)
        .filter(Q(status__in=[s for statuses in QUEUES.values() for s in statuses]) | today)
        .aggregate(
            late_for_contact=Count(
                "pk",
                filter=late_for_contact(
                    timezones=timezones, now=now, business_days=rules.contact_sla_business_days
                ),
            ),
            to_contact=Count("pk", filter=Q(status__in=QUEUES["needs_contact"])),
            to_schedule=Count("pk", filter=Q(status__in=QUEUES["needs_scheduling"])),
            awaiting_evaluation=Count("pk", filter=scheduled),
            my_awaiting_evaluation=Count("pk", filter=scheduled & Q(therapist_id=therapist_id)),
            appointment_passed=Count("pk", filter=passed),
            my_appointment_passed=Count("pk", filter=passed & Q(therapist_id=therapist_id)),
            received_today=Count("pk", filter=today),
        )
    )
    return ReferralWorkCounts(**counts)


def referral_milestones(*, referral: Referral) -> dict[str, timedelta | None]:
    """Time from receipt to first contact, to scheduling (from the history) and to the first visit.

    The first visit is the first appointment, booked when the referral was
    scheduled: ahead while it is scheduled, kept once it is evaluated, and
    none once lost before it. A referral scheduled before appointments were
    recorded counts its first visit from when it was marked evaluated.
    """
    reached = dict(
        StatusChange.objects.filter(referral=referral)
        .values_list("to_status")
        .annotate(first=Min("changed_at"))
    )
    # A referral scheduled on the first call was contacted then too.
    contacted = min((reached[s] for s in (Status.CONTACTED, Status.SCHEDULED) if s in reached), default=None)
    first_visit = referral.first_appointment_at or reached.get(Status.EVALUATED)
    return {
        "to_contact": contacted - referral.received_at if contacted else None,
        "to_schedule": reached[Status.SCHEDULED] - referral.received_at
        if Status.SCHEDULED in reached
        else None,
        "to_first_visit": first_visit - referral.received_at if first_visit else None,
    }


# The funnel, defined once. Every count of referrals by source (a physician's
# and a practice's panels, outreach's flags and attention list, analytics)
# builds on `received` and `evaluated_ever`, so the figures agree wherever
# they are shown.
EVALUATED_OR_LATER = (Status.EVALUATED, Status.IN_CARE, Status.DISCHARGED)


def received(since: datetime | None = None, until: datetime | None = None) -> Q:
    """Referrals received in [since, until): every referral a source sent counts, lost ones included."""
    window = Q()
    if since is not None:
        window &= Q(received_at__gte=since)
    if until is not None:
        window &= Q(received_at__lt=until)
    return window


def changes_of_outer_referral() -> QuerySet[StatusChange]:
    """The status changes of the outer query's referral, for a subquery; narrow it with `.filter()`.

    Matched by the referral alone, through the index of its foreign key: a
    change always carries its referral's organization, so the referral names
    it. Naming the organization as well let SQLite read the (organization,
    to_status) index for each referral instead, every such change of the
    organization: minutes for a physician with thousands of referrals, where
    the referral's index takes milliseconds.
    """
    return StatusChange.objects.filter(referral_id=OuterRef("pk"))


def evaluated_ever() -> Q:
    """Referrals that reached evaluation, even if the patient was lost afterwards.

    The status says so from evaluation on; a referral lost after its
    evaluation has it in its history.
    """
    evaluation = changes_of_outer_referral().filter(to_status=Status.EVALUATED)
    return Q(status__in=EVALUATED_OR_LATER) | Q(Exists(evaluation))


# The funnel's steps as analytics shows them, and the statuses that mean a
# referral got at least that far: steps may be skipped forward, so a patient
# scheduled on the first call was contacted then too. "In care" is a stretch
# of the evaluated step, not a step of its own.
FUNNEL = (Status.RECEIVED, Status.CONTACTED, Status.SCHEDULED, Status.EVALUATED, Status.DISCHARGED)
AT_OR_BEYOND: dict[str, tuple[str, ...]] = {
    Status.RECEIVED: tuple(Status.values),
    Status.CONTACTED: (Status.CONTACTED, Status.SCHEDULED, *EVALUATED_OR_LATER),
    Status.SCHEDULED: (Status.SCHEDULED, *EVALUATED_OR_LATER),
    Status.EVALUATED: EVALUATED_OR_LATER,
    Status.DISCHARGED: (Status.DISCHARGED,),
}
# The funnel step a referral is at while it has each open status (or had, when it was lost).
STEP_OF_STATUS: dict[str, str] = {
    Status.RECEIVED: Status.RECEIVED,
    Status.CONTACTED: Status.CONTACTED,
    Status.SCHEDULED: Status.SCHEDULED,
    Status.EVALUATED: Status.EVALUATED,
    Status.IN_CARE: Status.EVALUATED,
}


def reached(step: str) -> Q:
    """Referrals that got at least as far as `step` at some time (`evaluated_ever` for evaluation).

    By the status now, or by the history: a referral lost after contact was
    contacted all the same.
    """
    if step == Status.RECEIVED:
        return Q()
    beyond = AT_OR_BEYOND[step]
    moves = changes_of_outer_referral().filter(to_status__in=beyond)
    return Q(status__in=beyond) | Q(Exists(moves))


def lost_from() -> Subquery:
    """The status a referral had when it was last lost ("" if it never was); meaningful while it is lost."""
    return Subquery(
        changes_of_outer_referral()
        .filter(to_status=Status.LOST)
        .order_by("-changed_at", "-pk")
        .values("from_status")[:1]
    )


def referral_count(since: datetime | None = None, until: datetime | None = None) -> Count:
    """An aggregate: referrals received in the window (see `received`)."""
    window = received(since, until)
    return Count("pk", filter=window) if window else Count("pk")


def evaluated_count(since: datetime | None = None, until: datetime | None = None) -> Count:
    """An aggregate: referrals received in the window that were ever evaluated."""
    return Count("pk", filter=received(since, until) & evaluated_ever())


@dataclass(frozen=True)
class ReferralStats:
    """A source's referrals: the last 90 days against the 90 before, and conversion overall."""

    last_90_days: int
    previous_90_days: int
    received: int
    evaluated: int

    @property
    def conversion(self) -> float | None:
        """Referred → evaluated: evaluated ever ÷ received."""
        return self.evaluated / self.received if self.received else None


def _referral_stats(referrals: QuerySet[Referral]) -> ReferralStats:
    now = timezone.now()
    quarter_ago, half_year_ago = now - timedelta(days=90), now - timedelta(days=180)
    return ReferralStats(
        **referrals.aggregate(
            last_90_days=referral_count(since=quarter_ago),
            previous_90_days=referral_count(since=half_year_ago, until=quarter_ago),
            received=referral_count(),
            evaluated=evaluated_count(),
        )
    )


def physician_referral_stats(*, organization: Organization, physician_id: int) -> ReferralStats:
    """The physician's referrals (see ReferralStats), wherever they worked when they sent them; one query."""
    return _referral_stats(Referral.objects.for_organization(organization).filter(physician_id=physician_id))


def practice_referral_stats(*, organization: Organization, practice_id: int) -> ReferralStats:
    """The referrals attributed to a practice at intake (see ReferralStats); one query.

    Attributed by `referring_practice`, the physician's primary practice when
    each referral arrived: a physician who moves on leaves their referrals
    counted where they were sent from.
    """
    return _referral_stats(
        Referral.objects.for_organization(organization).filter(referring_practice_id=practice_id)
    )


@dataclass(frozen=True)
class Attribution:
    practice_id: int | None
    taxonomy_code: str


def referral_attributions(
    *, organization: Organization, physician_ids: Iterable[int]
) -> dict[int, Attribution]:
    """Each physician's primary practice and specialty now: what a referral from them is attributed to.

    One query for any number of physicians (intake asks for one, demo data for all).
    """
    primary = Affiliation.objects.filter(physician_id=OuterRef("pk"), is_primary=True).values("practice_id")[
        :1
    ]
    rows = (
        Physician.objects.filter(organization=organization, pk__in=list(physician_ids))
        .annotate(primary_practice_id=Subquery(primary))
        .values_list("pk", "primary_practice_id", "taxonomy_code")
    )
    return {pk: Attribution(practice_id=practice_id, taxonomy_code=code) for pk, practice_id, code in rows}


def status_counts(*, organization: Organization, filters: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Referrals by status, of those the list's other filters keep (all of them by default).

    The list's status tabs show these, so a tab's count is the length of the list its link opens.
    Unfiltered, COUNT(*) lets PostgreSQL read the status index alone.
    """
    other_filters = {name: value for name, value in (filters or {}).items() if name != "status"}
    return dict(
        _referrals_matching(organization=organization, filters=other_filters)
        .values_list("status")
        .annotate(n=Count("*"))
        .order_by()
    )


def physician_recent_referrals(
    *, organization: Organization, physician_id: int, limit: int
) -> list[Referral]:
    return list(
        Referral.objects.for_organization(organization)
        .filter(physician_id=physician_id)
        .select_related("clinic")
        .order_by("-received_at", "-pk")[:limit]
    )


@dataclass
class PlanRow:
    plan: PlanOfCare
    state: PlanState


@dataclass
class PracticeGroup:
    """Unsigned plans at one practice: one call to its gatekeeper settles them together."""

    practice: Practice | None
    gatekeepers: list[Gatekeeper]
    rows: list[PlanRow]


def _unsigned_plans(organization: Organization, therapist_id: int | None) -> QuerySet[PlanOfCare]:
    """Plans of care of open referrals still to be signed; of `therapist_id`'s referrals if given."""
    plans = PlanOfCare.objects.for_organization(organization).filter(
        signed_on__isnull=True, referral__status__in=OPEN_STATUSES
    )
    return plans if therapist_id is None else plans.filter(referral__therapist_id=therapist_id)


def plans_awaiting_signature(
    *,
    organization: Organization,
    today: date,
    rules: ReferralSettings | None = None,
    therapist_id: int | None = None,
    status: PlanStatus | None = None,
) -> list[PracticeGroup]:
    """Unsigned plans of care of open referrals, grouped by the certifier's primary practice.

    Narrowed to the referrals of `therapist_id`, and to the plans in `status`, when given.
    """
    rules = rules or referral_settings_get(organization=organization)
    plans = (
        _unsigned_plans(organization, therapist_id)
        .select_related("certifier", "referral")
        # One Prefetch per call: each is typed by its own queryset.
        .prefetch_related(
            Prefetch(
                "certifier__affiliations",
                queryset=Affiliation.objects.filter(is_primary=True).select_related("practice"),
                to_attr="primary_affiliations",
            )
        )
        .prefetch_related(
            Prefetch(
                "certifier__affiliations__practice__gatekeepers",
                queryset=Gatekeeper.objects.filter(is_active=True),
            )
        )
        .order_by("starts_on", "pk")
    )
    groups: dict[int | None, PracticeGroup] = {}
    for plan in plans:
        primaries: list[Affiliation] = plan.certifier.primary_affiliations  # type: ignore[attr-defined]  # to_attr
        primary = primaries[0] if primaries else None
        practice = primary.practice if primary else None
        key = practice.pk if practice else None
        if key not in groups:
            gatekeepers = list(practice.gatekeepers.all()) if practice else []
            groups[key] = PracticeGroup(practice=practice, gatekeepers=gatekeepers, rows=[])
        state = plan_state(plan, rules=rules, today=today, care_continues=True)
        if status is None or state.status == status:
            groups[key].rows.append(PlanRow(plan=plan, state=state))
    # Practices with the most overdue plans first.
    return sorted(
        (group for group in groups.values() if group.rows),
        key=lambda group: (
            -sum(row.state.status == PlanStatus.OVERDUE for row in group.rows),
            -len(group.rows),
        ),
    )


@dataclass(frozen=True)
class PlanCounts:
    """Unsigned plans of care of open referrals (`plans_awaiting_signature`'s rows), by status."""

    overdue: int
    not_sent: int
    unsigned: int


def plan_counts(
    *, organization: Organization, today: date, rules: ReferralSettings, therapist_id: int | None = None
) -> PlanCounts:
    """How many plans `plans_awaiting_signature` lists in all, overdue and not sent yet, in one query.

    The same rule as `plan_state`: unsigned, a plan is overdue once `today`
    is past its first day plus the signature days.
    """
    due_before = today - timedelta(days=rules.poc_signature_days)
    overdue = Q(starts_on__lt=due_before)
    counts = _unsigned_plans(organization, therapist_id).aggregate(
        overdue=Count("pk", filter=overdue),
        not_sent=Count("pk", filter=~overdue & Q(sent_on__isnull=True)),
        unsigned=Count("pk"),
    )
    return PlanCounts(**counts)


def referral_plans(
    *, organization: Organization, referral: Referral, today: date, rules: ReferralSettings | None = None
) -> list[PlanRow]:
    care_continues = referral.status in (Status.EVALUATED, Status.IN_CARE)
    rules = rules or referral_settings_get(organization=organization)
    return [
        PlanRow(
            plan=plan,
            state=plan_state(plan, rules=rules, today=today, care_continues=care_continues),
        )
        for plan in referral.plans_of_care.select_related("certifier")
    ]


def referral_list(*, organization: Organization, filters: Mapping[str, Any]) -> QuerySet[Referral]:
    """Referrals matching the list page's filters, newest first."""
    return (
        _referrals_matching(organization=organization, filters=filters)
        .select_related("clinic", "physician", "payer", "therapist", "first_appointment_clinic")
        .order_by(*LIST_ORDER)
    )


def _referrals_matching(*, organization: Organization, filters: Mapping[str, Any]) -> QuerySet[Referral]:
    """The list's filters, applied.

    `received_from` and `received_to` are days in the viewer's zone, like the
    times the list shows; `received_on` is a day in the organization's zone.
    """
    lookups = {
        "number": "number",
        "status": "status",
        "clinic": "clinic",
        "source": "source_type",
        "physician": "physician",
        "practice": "referring_practice",
        "specialty": "referring_taxonomy_code",
        "owner": "physician__owner",
        "therapist": "therapist",
        "payer": "payer",
        "loss_reason": "loss_reason",
        "received_from": "received_at__date__gte",
        "received_to": "received_at__date__lte",
    }
    queryset: QuerySet[Referral] = Referral.objects.for_organization(organization).filter(
        **{lookups[name]: value for name, value in filters.items() if name in lookups}
    )
    zone = organization_zone(organization)
    # Days in the organization's zone: the home page's "received today" and analytics' periods.
    if received_on := filters.get("received_on"):
        starts, ends = local_day_bounds(_as_date(received_on), zone)
        queryset = queryset.filter(received_at__gte=starts, received_at__lt=ends)
    if since := filters.get("received_since"):
        queryset = queryset.filter(received_at__gte=local_day_bounds(_as_date(since), zone)[0])
    if until := filters.get("received_until"):
        queryset = queryset.filter(received_at__lt=local_day_bounds(_as_date(until), zone)[1])
    if filters.get("missing") in MISSING:
        queryset = queryset.filter(MISSING[filters["missing"]][1])
    if filters.get("appointment") == APPOINTMENT_PASSED:
        queryset = queryset.filter(
            appointment_passed(timezones=clinic_timezones(organization=organization), now=timezone.now())
        )
    for extra in list_filters.registered():
        if value := filters.get(extra.name):
            queryset = extra.narrow(queryset, organization, value)
    return queryset


def _as_date(value: date | str) -> date:
    """A filter's day as the form parsed it, or as an export stored it (ISO)."""
    return date.fromisoformat(value) if isinstance(value, str) else value


BOARD_CARDS_PER_COLUMN = 25


def board(*, organization: Organization) -> list[tuple[Status, int, list[Referral]]]:
    """Open referrals by status, oldest first in each column: one query per column, whatever the volume."""
    counts = status_counts(organization=organization)
    columns = []
    for status in OPEN_STATUSES:
        cards = list(
            Referral.objects.for_organization(organization)
            .filter(status=status)
            .select_related("physician", "clinic")
            .order_by("received_at", "pk")[:BOARD_CARDS_PER_COLUMN]
        )
        columns.append((Status(status), counts.get(status, 0), cards))
    return columns


def pending_document(*, organization: Organization, user: User, key: uuid.UUID) -> PendingDocument | None:
    """A document kept for an intake form: only its uploader, in its organization, can name it."""
    return PendingDocument.objects.for_organization(organization).filter(uploaded_by=user, key=key).first()


def referral_documents(*, organization: Organization, referral: Referral) -> QuerySet[ReferralDocument]:
    return (
        ReferralDocument.objects.for_organization(organization)
        .filter(referral=referral)
        .select_related("added_by")
    )


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    by: User | None
    status_change: StatusChange | None = None
    correction: PatientCorrection | None = None
    appointment_change: AppointmentChange | None = None


def referral_history(*, referral: Referral) -> list[HistoryEntry]:
    """Status changes, appointments booked, moved or cancelled, and corrections of the patient's details.

    Oldest first, in three queries; a move and the appointment it booked or
    cancelled, at the same moment, keep that order.
    """
    entries = [
        HistoryEntry(at=change.changed_at, by=change.changed_by, status_change=change)
        for change in referral.status_changes.select_related("changed_by")
    ]
    entries += [
        HistoryEntry(at=change.changed_at, by=change.changed_by, appointment_change=change)
        for change in referral.appointment_changes.select_related("changed_by", "clinic")
    ]
    entries += [
        HistoryEntry(at=correction.corrected_at, by=correction.corrected_by, correction=correction)
        for correction in referral.patient_corrections.select_related("corrected_by")
    ]
    return sorted(entries, key=lambda entry: entry.at)


def referral_contact_attempts(*, organization: Organization, referral: Referral) -> list[ContactAttempt]:
    """The attempts to reach the referral's patient, latest first."""
    return list(
        ContactAttempt.objects.for_organization(organization)
        .filter(referral=referral)
        .select_related("attempted_by")
        .order_by("-attempted_at", "-pk")
    )


PATIENT_MATCHES_MAX = 50


def referrals_of_patient(*, organization: Organization, name: str, birth_date: date) -> list[Referral]:
    """The organization's referrals of a patient given by name and date of birth, closest names first.

    1. The database narrows to the date of birth (a few referrals at most).
    2. Each word typed must start a word of the patient's name, or resemble
       one as physician search judges resemblance (a fax's "Jon Smyth");
       case, accents, punctuation and order do not matter.
    3. Exact names first, then resemblances, each newest first.
    """
    words = searchable(name).split()
    if not words:
        return []
    born = (
        Referral.objects.for_organization(organization)
        .filter(patient_birth_date=birth_date)
        .select_related("clinic", "physician")
        .order_by("-received_at", "-pk")
    )
    ranked = []
    for referral in born:
        patient = searchable(referral.patient_first_name, referral.patient_last_name)
        exact = all(f" {word}" in f" {patient}" for word in words)
        if exact or all(strict_word_similarity(word, patient) >= SIMILARITY_THRESHOLD for word in words):
            ranked.append((not exact, referral))
    ranked.sort(key=lambda pair: pair[0])  # stable: newest first within each
    return [referral for _, referral in ranked[:PATIENT_MATCHES_MAX]]


# A week's referrals for many people at once (the weekly digests): each
# selector reads the whole organization's rows in one query, each carrying its
# `therapist_id`, so a batch of recipients costs the same as one.


def referrals_received_between(
    *, organization: Organization, since: datetime, until: datetime
) -> list[Referral]:
    """Referrals received in [since, until), oldest first, with their physician; one query."""
    return list(
        Referral.objects.for_organization(organization)
        .filter(received(since, until))
        .select_related("physician")
        .order_by("received_at", "pk")
    )


def evaluations_booked_between(
    *, organization: Organization, since: datetime, until: datetime
) -> list[Referral]:
    """Referrals scheduled for their evaluation in [since, until), soonest first; one query."""
    return list(
        Referral.objects.for_organization(organization)
        .filter(status=Status.SCHEDULED, first_appointment_at__gte=since, first_appointment_at__lt=until)
        .select_related("first_appointment_clinic")
        .order_by("first_appointment_at", "pk")
    )


def referrals_discharged_between(
    *, organization: Organization, since: datetime, until: datetime
) -> list[Referral]:
    """Referrals discharged (by their history) in [since, until) and still discharged; one query."""
    moved = StatusChange.objects.filter(
        organization=organization, to_status=Status.DISCHARGED, changed_at__gte=since, changed_at__lt=until
    )
    return list(
        Referral.objects.for_organization(organization)
        .filter(status=Status.DISCHARGED, pk__in=moved.values("referral_id"))
        .select_related("physician")
        .order_by("pk")
    )
