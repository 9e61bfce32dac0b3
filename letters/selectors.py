"""Reads of outcome letters: what is due, the queues, a referral's and a physician's letters, the open loops.

Every function takes the organization and scopes its queries to it; lists
cost a fixed number of queries however many rows they show.
"""

import datetime
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import Case, Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.utils import timezone

from clinics.clock import organization_today, organization_zone
from clinics.models import Organization
from outcomes.models import CareNote
from physicians.models import Affiliation, UpdateRhythm
from referrals.models import Referral, SourceType, Status
from referrals.selectors import changes_of_outer_referral

from .models import (
    Letter,
    LetterKind,
    LetterOpening,
    LetterReferral,
    LetterSettings,
    LetterStatus,
    delivered,
    email_undelivered,
    left_clinic,
)
from .rhythm import (
    month_bounds,
    month_last_day,
    monthly_key,
    previous_month,
    referral_letter_key,
    rhythms_wanting,
)

# Notes recorded longer ago than this make no letter due, should the sweep
# have been stopped that long: the loop-not-closed list shows such patients.
CATCH_UP = datetime.timedelta(days=14)
# How far back the loop-not-closed list looks for evaluations.
LOOP_HORIZON = datetime.timedelta(days=90)
# The statuses of a referral whose patient the clinic has seen.
SEEN_STATUSES = (Status.EVALUATED, Status.IN_CARE, Status.DISCHARGED)
CLOSED_STATUSES = (Status.DISCHARGED, Status.LOST)


def letter_settings_get(*, organization: Organization) -> LetterSettings:
    """The organization's letter rules, made with the defaults the first time they are asked for."""
    rules, _ = LetterSettings.objects.get_or_create(organization=organization)
    return rules


def loop_days_get(*, organization: Organization) -> int:
    """The days after which a physician who heard nothing counts as a loop not closed; one read, no write.

    For pages that only read (analytics' dashboards): the field's default
    while the organization has never saved its letter rules.
    """
    saved = (
        LetterSettings.objects.filter(organization=organization).values_list("loop_days", flat=True).first()
    )
    return saved if saved is not None else LetterSettings._meta.get_field("loop_days").get_default()


@dataclass(frozen=True)
class DueLetter:
    """A letter the sweep must compose: what it reports, for whom, and its once-only key."""

    kind: str
    key: str
    physician_id: int
    due_at: datetime.datetime
    period_start: datetime.date
    period_end: datetime.date
    referral_id: int | None = None
    note_id: int | None = None


def _care_note_letters(
    *, organization: Organization, since: datetime.datetime, now: datetime.datetime
) -> list[DueLetter]:
    """Letters due for the care notes recorded in (since, now], by each physician's rhythm; one query.

    An evaluation or a discharge is reported once per referral (its first
    note of that kind makes the letter due), every progress note once.
    """
    wanted = Q()
    for kind in (LetterKind.EVALUATION, LetterKind.PROGRESS, LetterKind.DISCHARGE):
        wanted |= Q(kind=kind, referral__physician__update_rhythm__in=rhythms_wanting(kind))
    notes = (
        CareNote.objects.filter(
            wanted,
            organization=organization,
            created_at__gt=since,
            created_at__lte=now,
            referral__source_type=SourceType.PHYSICIAN,
            referral__physician__isnull=False,
        )
        .order_by("created_at", "pk")
        .values_list("pk", "kind", "referral_id", "referral__physician_id", "created_at", "noted_on")
    )
    due: dict[str, DueLetter] = {}
    for note_id, note_kind, referral_id, physician_id, created_at, noted_on in notes:
        key = referral_letter_key(kind=note_kind, referral_id=referral_id, note_id=note_id)
        due.setdefault(
            key,
            DueLetter(
                kind=note_kind,
                key=key,
                physician_id=physician_id,
                referral_id=referral_id,
                note_id=note_id,
                due_at=created_at,
                period_start=noted_on,
                period_end=noted_on,
            ),
        )
    return list(due.values())


def _closed_at() -> Subquery:
    """When a referral reached the closed status it has now (its last move there)."""
    return Subquery(
        changes_of_outer_referral()
        .filter(to_status=OuterRef("status"))
        .order_by("-changed_at")
        .values("changed_at")[:1]
    )


def monthly_candidates(
    *, organization: Organization, until: datetime.datetime, physician_ids: Iterable[int] | None = None
) -> QuerySet[Referral]:
    """Referrals received before `until` that a monthly summary may list, with their `closed_at`; one query.

    Of physicians whose rhythm is the monthly summary (or of `physician_ids`).
    Which month lists which is `in_month`'s to say.
    """
    referrals = Referral.objects.for_organization(organization).filter(
        source_type=SourceType.PHYSICIAN, physician__isnull=False, received_at__lt=until
    )
    if physician_ids is None:
        referrals = referrals.filter(physician__update_rhythm=UpdateRhythm.MONTHLY)
    else:
        referrals = referrals.filter(physician_id__in=list(physician_ids))
    return referrals.annotate(closed_at=_closed_at())


def in_month(referral: Referral, start: datetime.datetime, end: datetime.datetime) -> bool:
    """Whether the summary of [start, end) lists a referral: received by its end, not closed before it began.

    Reads `closed_at` (`monthly_candidates`).
    """
    closed_at = referral.closed_at  # type: ignore[attr-defined]  # annotated by monthly_candidates
    closed_before = referral.status in CLOSED_STATUSES and closed_at is not None and closed_at < start
    return referral.received_at < end and not closed_before


def monthly_patients(
    *,
    organization: Organization,
    start: datetime.datetime,
    end: datetime.datetime,
    physician_ids: Iterable[int] | None = None,
) -> QuerySet[Referral]:
    """The referrals the summary of [start, end) lists, as one query (`in_month` in SQL)."""
    candidates = monthly_candidates(organization=organization, until=end, physician_ids=physician_ids)
    return candidates.exclude(  # type: ignore[misc]  # an annotated name, unknown to the plugin
        status__in=CLOSED_STATUSES, closed_at__lt=start
    )


def monthly_letters_due(*, organization: Organization, month: datetime.date) -> list[DueLetter]:
    """The summary of `month` for each monthly physician with patients in it; one query."""
    start, end = month_bounds(month, organization_zone(organization))
    physician_ids = (
        monthly_patients(organization=organization, start=start, end=end)
        .order_by()
        .values_list("physician_id", flat=True)
        .distinct()
    )
    return [
        DueLetter(
            kind=LetterKind.MONTHLY,
            key=monthly_key(physician_id=physician_id, month=month),
            physician_id=physician_id,
            due_at=end,
            period_start=month,
            period_end=month_last_day(month),
        )
        for physician_id in sorted(physician_ids)
    ]


def _monthly_letters(
    *, organization: Organization, rules: LetterSettings, now: datetime.datetime
) -> list[DueLetter]:
    """Last month's summaries (the organization's calendar), due from midnight on the 1st in its zone.

    Not for a month that ended before letters were switched on.
    """
    month = previous_month(organization_today(organization, now=now))
    if month_bounds(month, organization_zone(organization))[1] <= rules.letters_since:
        return []
    return monthly_letters_due(organization=organization, month=month)


def letters_due_in_history(
    *, organization: Organization, until: datetime.datetime, months: Sequence[datetime.date]
) -> list[DueLetter]:
    """Every letter the rhythms asked for up to `until`, and `months`' summaries: the demo's history.

    Two queries: the care notes, and the monthly physicians' referrals, sorted into months here.
    """
    since = datetime.datetime.min.replace(tzinfo=datetime.UTC)
    due = _care_note_letters(organization=organization, since=since, now=until)
    if not months:
        return due
    zone = organization_zone(organization)
    bounds = {month: month_bounds(month, zone) for month in months}
    candidates = list(
        monthly_candidates(organization=organization, until=max(end for _, end in bounds.values())).only(
            "pk", "physician_id", "received_at", "status"
        )
    )
    for month, (start, end) in bounds.items():
        physician_ids = {
            referral.physician_id
            for referral in candidates
            if referral.physician_id is not None and in_month(referral, start, end)
        }
        due += [
            DueLetter(
                kind=LetterKind.MONTHLY,
                key=monthly_key(physician_id=physician_id, month=month),
                physician_id=physician_id,
                due_at=end,
                period_start=month,
                period_end=month_last_day(month),
            )
            for physician_id in sorted(physician_ids)
        ]
    return due


def letters_due(
    *, organization: Organization, rules: LetterSettings, now: datetime.datetime
) -> list[DueLetter]:
    """Every letter due now that has not been composed yet; three queries whatever the numbers.

    Care notes recorded since letters were switched on (at most CATCH_UP
    ago) and last month's summaries, less the keys already composed.
    """
    since = max(rules.letters_since, now - CATCH_UP)
    due = _care_note_letters(organization=organization, since=since, now=now)
    due += _monthly_letters(organization=organization, rules=rules, now=now)
    if not due:
        return []
    composed = set(
        Letter.objects.for_organization(organization)
        .filter(key__in=[letter.key for letter in due])
        .values_list("key", flat=True)
    )
    return [letter for letter in due if letter.key not in composed]


def _with_practice(letters: QuerySet[Letter]) -> QuerySet[Letter]:
    """Annotates the physician's primary practice's name, fax and phone: where a printed letter goes."""
    primary = Affiliation.objects.filter(physician_id=OuterRef("physician_id"), is_primary=True)
    return letters.annotate(
        practice_name=Subquery(primary.values("practice__name")[:1]),
        practice_fax=Subquery(primary.values("practice__fax")[:1]),
        practice_phone=Subquery(primary.values("practice__phone")[:1]),
    )


def _listed(organization: Organization) -> QuerySet[Letter]:
    return Letter.objects.for_organization(organization).select_related(
        "physician", "referral", "email", "therapist"
    )


def letters_awaiting_review(
    *,
    organization: Organization,
    therapist_id: int | None = None,
    late_before: datetime.datetime | None = None,
) -> QuerySet[Letter]:
    """Letters waiting for a reviewer, longest waiting first; a therapist's own with `therapist_id`.

    With `late_before`, only those waiting since before then.
    """
    letters = _listed(organization).filter(status=LetterStatus.REVIEW)
    if late_before is not None:
        letters = letters.filter(created_at__lt=late_before)
    if therapist_id is not None:
        letters = letters.filter(Q(therapist_id=therapist_id) | Q(referral__therapist_id=therapist_id))
    return letters.order_by("created_at", "pk")


def letters_to_send(*, organization: Organization) -> QuerySet[Letter]:
    """The print queue, longest waiting first: letters to fax, post, message or phone, and failed emails."""
    return _with_practice(
        _listed(organization).filter(Q(status=LetterStatus.TO_SEND) | email_undelivered())
    ).order_by("created_at", "pk")


HISTORY_FILTERS = ("kind", "status", "physician")


def letter_history(*, organization: Organization, filters: Mapping[str, Any]) -> QuerySet[Letter]:
    """Every letter, newest first, with how often its link was opened; `filters` from the history's form."""
    letters = _listed(organization).annotate(opened=Count("openings"))
    if filters.get("kind"):
        letters = letters.filter(kind=filters["kind"])
    if filters.get("status"):
        letters = letters.filter(status=filters["status"])
    if filters.get("physician"):
        letters = letters.filter(physician_id=filters["physician"])
    return letters.order_by("-created_at", "-pk")


def referral_letters(*, organization: Organization, referral_id: int) -> list[Letter]:
    """The letters about a referral (monthly summaries that listed it included), oldest first; one query."""
    about = LetterReferral.objects.filter(organization=organization, referral_id=referral_id)
    return list(
        _listed(organization)
        .filter(pk__in=about.values("letter_id"))
        .annotate(opened=Count("openings"))
        .order_by("created_at", "pk")
    )


def physician_letters(*, organization: Organization, physician_id: int, limit: int) -> list[Letter]:
    """The letters a physician was sent or is about to be, newest first; one query."""
    return list(
        _listed(organization)
        .filter(physician_id=physician_id)
        .exclude(status=LetterStatus.WITHDRAWN)
        .annotate(opened=Count("openings"))
        .order_by("-created_at", "-pk")[:limit]
    )


def letter_detail(*, organization: Organization, letter_id: int) -> Letter | None:
    return _with_practice(_listed(organization)).filter(pk=letter_id).first()


def letter_openings(*, organization: Organization, letter: Letter) -> list[LetterOpening]:
    return list(LetterOpening.objects.filter(organization=organization, letter=letter).order_by("-opened_at"))


def letter_recipient_practice(*, organization: Organization, letter: Letter) -> Affiliation | None:
    """The physician's primary practice, for the address a printed letter is written to."""
    return (
        Affiliation.objects.filter(
            organization=organization, physician_id=letter.physician_id, is_primary=True
        )
        .select_related("practice")
        .first()
    )


def _reached_at(*statuses: str) -> Subquery:
    """When the referral first moved to one of `statuses`."""
    return Subquery(
        changes_of_outer_referral()
        .filter(to_status__in=statuses)
        .order_by("changed_at")
        .values("changed_at")[:1]
    )


def _about_referral(*conditions: Q, **lookup: Any) -> QuerySet[LetterReferral]:
    """The letters about the outer query's referral that meet `conditions` (on `letter__…`)."""
    return LetterReferral.objects.filter(
        *conditions, organization_id=OuterRef("organization_id"), referral_id=OuterRef("pk"), **lookup
    )


def _heard(*kinds: str) -> Exists:
    """Whether a letter of `kinds` about the referral reached its physician."""
    return Exists(_about_referral(delivered("letter__"), letter__kind__in=kinds))


def first_seen_at() -> Subquery:
    """When the outer query's referral's patient was first seen (its first move to a seen status)."""
    return _reached_at(*SEEN_STATUSES)


def first_letter_after(seen_at: str) -> Subquery:
    """When the first letter about the outer query's referral left the clinic at or after `seen_at`.

    `seen_at` names an annotation of the outer query (`first_seen_at`): a
    monthly summary that listed the patient before the evaluation tells the
    physician nothing of it. None while no such letter has left.
    """
    return Subquery(
        _about_referral(left_clinic("letter__"), letter__sent_at__gte=OuterRef(seen_at))
        .order_by("letter__sent_at")
        .values("letter__sent_at")[:1]
    )


class LoopReason(models.TextChoices):
    EVALUATION = "evaluation", "No letter since the evaluation"
    DISCHARGE = "discharge", "No discharge summary"
    MONTHLY = "monthly", "Not in a monthly summary"


@dataclass(frozen=True)
class _LoopRules:
    """The referrals whose physician should have heard by now (`due`), and those who have not (`open`)."""

    due: Q
    open: Q
    # The first two of `open`'s three reasons: the rest are monthly.
    evaluation_open: Q
    discharge_open: Q


def _loop_rules(organization: Organization, rules: LetterSettings, now: datetime.datetime) -> _LoopRules:
    """By rhythm (rhythm.py), as conditions on `_loop_referrals`' annotations; see `loop_not_closed`."""
    late = now - datetime.timedelta(days=rules.loop_days)
    horizon = now - LOOP_HORIZON
    # A month's summary is due at the month's end: a patient seen before the
    # month that `late` falls in should have been in one that is late now.
    summary_late = month_bounds(organization_today(organization, now=late), organization_zone(organization))[
        0
    ]
    evaluation = Q(
        physician__update_rhythm__in=rhythms_wanting(LetterKind.EVALUATION),
        seen_at__lte=late,
        seen_at__gte=horizon,
    )
    discharge = Q(
        physician__update_rhythm__in=rhythms_wanting(LetterKind.DISCHARGE),
        status=Status.DISCHARGED,
        discharged_at__lte=late,
        discharged_at__gte=horizon,
    )
    monthly = Q(physician__update_rhythm=UpdateRhythm.MONTHLY, seen_at__lt=summary_late, seen_at__gte=horizon)
    evaluation_open = evaluation & Q(heard_any=False)
    discharge_open = discharge & Q(heard_discharge=False)
    return _LoopRules(
        due=evaluation | discharge | monthly,
        open=evaluation_open | discharge_open | (monthly & Q(heard_any=False)),
        evaluation_open=evaluation_open,
        discharge_open=discharge_open,
    )


def _loop_referrals(organization: Organization) -> QuerySet[Referral]:
    every_kind = [kind.value for kind in LetterKind]
    return (
        Referral.objects.for_organization(organization)
        .filter(status__in=SEEN_STATUSES, source_type=SourceType.PHYSICIAN, physician__isnull=False)
        .annotate(
            seen_at=_reached_at(*SEEN_STATUSES),
            discharged_at=_reached_at(Status.DISCHARGED),
            heard_any=_heard(*every_kind),
            heard_discharge=_heard(LetterKind.DISCHARGE, LetterKind.MONTHLY),
        )
    )


def loop_not_closed(
    *, organization: Organization, rules: LetterSettings, now: datetime.datetime | None = None
) -> QuerySet[Referral]:
    """Evaluated or discharged referrals whose physician has not heard as their rhythm promised.

    Heard: a letter about the patient reached them (emailed, or printed and
    marked sent). By rhythm (rhythm.py):

    1. Evaluation letters (after the evaluation, every note): evaluated
       `loop_days` ago or more, and no letter about the patient reached them.
    2. Discharge letters (at discharge, every note): discharged `loop_days`
       ago or more, and no discharge summary (nor a monthly one) reached them.
    3. Monthly summaries: seen in a month whose summary was due `loop_days`
       ago or more, and no summary listing the patient reached them.

    Physicians who asked for no routine updates are not listed. Within the
    last LOOP_HORIZON, oldest first, each with its `loop_reason` and the
    state of a letter still on its way, if any. One query.
    """
    now = now or timezone.now()
    loop = _loop_rules(organization, rules, now)
    waiting = _about_referral(
        Q(letter__status__in=[LetterStatus.REVIEW, LetterStatus.TO_SEND]) | email_undelivered("letter__")
    )
    return (
        _loop_referrals(organization)
        .filter(loop.open)
        .annotate(
            loop_reason=Case(
                When(loop.evaluation_open, then=Value(LoopReason.EVALUATION)),
                When(loop.discharge_open, then=Value(LoopReason.DISCHARGE)),
                default=Value(LoopReason.MONTHLY),
            ),
            waiting_letter=Subquery(waiting.order_by("letter__created_at").values("letter__status")[:1]),
        )
        .select_related("physician", "clinic", "therapist")
        .order_by(F("seen_at"), "pk")
    )


@dataclass(frozen=True)
class LoopCounts:
    """Referrals of the last LOOP_HORIZON whose physician should have heard by now, and those who did."""

    due: int
    closed: int

    @property
    def closed_share(self) -> float | None:
        return self.closed / self.due if self.due else None


def loop_counts(*, organization: Organization, rules: LetterSettings, now: datetime.datetime) -> LoopCounts:
    """How many referrals' loops should be closed by now, and how many are: the rule of `loop_not_closed`.

    One query; `due - closed` is what `loop_not_closed` lists.
    """
    loop = _loop_rules(organization, rules, now)
    counts = (
        _loop_referrals(organization)
        .filter(loop.due)
        .aggregate(due=Count("pk"), still_open=Count("pk", filter=loop.open))
    )
    return LoopCounts(due=counts["due"], closed=counts["due"] - counts["still_open"])


def letters_sent_between(
    *, organization: Organization, since: datetime.datetime, until: datetime.datetime
) -> list[Letter]:
    """Letters that reached their physician in [since, until) (emailed, or printed and sent); one query.

    Each with its referral (none for a monthly summary) and physician, oldest first.
    """
    return list(
        _listed(organization)
        .filter(delivered(), sent_at__gte=since, sent_at__lt=until)
        .order_by("sent_at", "pk")
    )


@dataclass(frozen=True)
class ReviewCounts:
    waiting: int
    late: int


def review_counts(
    *, organization: Organization, late_before: datetime.datetime, therapist_id: int | None = None
) -> ReviewCounts:
    """Letters waiting for review, and those waiting since before `late_before`; one query."""
    counts = letters_awaiting_review(organization=organization, therapist_id=therapist_id).aggregate(
        waiting=Count("pk"), late=Count("pk", filter=Q(created_at__lt=late_before))
    )
    return ReviewCounts(waiting=counts["waiting"], late=counts["late"])


def letter_for_access_token(*, access_token: str) -> Letter | None:
    """The letter an emailed link names, with what its page shows; None for an unknown token."""
    if not access_token:
        return None
    return (
        Letter.objects.filter(access_token=access_token)
        .exclude(status=LetterStatus.WITHDRAWN)
        .select_related("organization", "physician", "referral")
        .first()
    )


def letters_about(*, organization: Organization, referral_ids: Iterable[int]) -> dict[int, list[int]]:
    """{referral id: ids of the letters about it}, for the demo and tests; one query."""
    found: dict[int, list[int]] = defaultdict(list)
    for referral_id, letter_id in LetterReferral.objects.filter(
        organization=organization, referral_id__in=list(referral_ids)
    ).values_list("referral_id", "letter_id"):
        found[referral_id].append(letter_id)
    return dict(found)
