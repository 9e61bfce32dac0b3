"""Reads of outcomes, care notes and NPS: batched by referral, a fixed number of queries, one organization.

Every selector takes the organization and a collection of referral ids and
answers for the ids of that organization only; an id of another organization
is simply absent from the answer. A referral with nothing to report is absent
too: read the answers with `.get(referral_id, [])`.
"""

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.db.models import Avg, Count, F, Min, OuterRef, Q, Subquery

from billing.models import RowSource, Visit
from clinics.clock import local_date, local_day_bounds, organization_zone
from clinics.models import Organization
from physicians.models import Physician
from referrals.models import Referral, Status
from referrals.selectors import evaluated_ever, received

from .instruments import BY_CODE, INSTRUMENTS, Instrument, points
from .models import CareNote, NpsResponse, NpsSurvey, OutcomeScore, Phase


@dataclass(frozen=True)
class OutcomeChange:
    """One instrument's change from intake to the latest later score of a referral, and what it means."""

    instrument_code: str
    instrument_name: str
    intake_score: Decimal
    intake_on: date
    latest_score: Decimal
    latest_on: date
    latest_phase: str
    # latest − intake, signed as the scale runs.
    change: Decimal
    # The change in the improving direction: positive is better.
    improvement: Decimal
    # The threshold that applied to this patient; None where none is published.
    mcid: Decimal | None
    reached_mcid: bool | None
    # In plain words: "improved 18 points, more than the 9-point change patients notice".
    meaning: str


@dataclass(frozen=True)
class NpsAnswer:
    score: int
    comment: str
    answered_on: date
    answered_by_patient: bool


# The latest score is the last by date; on one day a discharge comes after a progress score.
PHASE_ORDER = {Phase.INTAKE: 0, Phase.PROGRESS: 1, Phase.DISCHARGE: 2}
INSTRUMENT_ORDER = {measure.code: position for position, measure in enumerate(INSTRUMENTS)}


def outcome_change(intake: OutcomeScore, latest: OutcomeScore) -> OutcomeChange:
    measure = BY_CODE[intake.instrument]
    return OutcomeChange(
        instrument_code=measure.code,
        instrument_name=measure.name,
        intake_score=intake.score,
        intake_on=intake.taken_on,
        latest_score=latest.score,
        latest_on=latest.taken_on,
        latest_phase=latest.phase,
        change=latest.score - intake.score,
        improvement=measure.improvement(intake=intake.score, latest=latest.score),
        mcid=measure.mcid_for(intake.score),
        reached_mcid=measure.reached_mcid(intake=intake.score, latest=latest.score),
        meaning=measure.meaning(intake=intake.score, latest=latest.score),
    )


def changes_from_scores(scores: Iterable[OutcomeScore]) -> dict[int, list[OutcomeChange]]:
    """Groups scores by referral and instrument; a change needs an intake score and a later one."""
    grouped: dict[tuple[int, str], list[OutcomeScore]] = defaultdict(list)
    for score in scores:
        if score.instrument in BY_CODE:
            grouped[(score.referral_id, score.instrument)].append(score)
    changes: dict[int, list[OutcomeChange]] = defaultdict(list)
    for (referral_id, _), rows in sorted(grouped.items(), key=lambda item: INSTRUMENT_ORDER[item[0][1]]):
        intake = next((row for row in rows if row.phase == Phase.INTAKE), None)
        later = [row for row in rows if row.phase != Phase.INTAKE]
        if intake is None or not later:
            continue
        latest = max(later, key=lambda row: (row.taken_on, PHASE_ORDER[Phase(row.phase)], row.pk))
        changes[referral_id].append(outcome_change(intake, latest))
    return dict(changes)


def referral_outcome_changes(
    *, organization: Organization, referral_ids: Collection[int]
) -> dict[int, list[OutcomeChange]]:
    """Each referral's change per instrument since intake, in the instruments' order; one query."""
    scores = OutcomeScore.objects.for_organization(organization).filter(referral_id__in=list(referral_ids))
    return changes_from_scores(scores.only("referral_id", "instrument", "phase", "score", "taken_on"))


def headline_change(changes: Sequence[OutcomeChange]) -> OutcomeChange | None:
    """The change that stands for a referral where figures count patients rather than measures.

    The first in the instruments' order (outcomes/instruments.py) that has an
    MCID verdict, else the first: a patient measured on KOOS JR and NPRS is
    judged on NPRS, the one with a published threshold.
    """
    return next((change for change in changes if change.reached_mcid is not None), None) or next(
        iter(changes), None
    )


def referral_headline_changes(
    *, organization_id: int, referral_ids: Collection[int]
) -> dict[int, OutcomeChange]:
    """Each referral's headline change (`headline_change`), for referrals with one; one query.

    Takes the organization's id, as the rollups that read it know their
    referrals by their rows (analytics.rollups).
    """
    scores = OutcomeScore.objects.filter(organization_id=organization_id, referral_id__in=list(referral_ids))
    changes = changes_from_scores(scores.only("referral_id", "instrument", "phase", "score", "taken_on"))
    return {
        referral_id: headline
        for referral_id, found in changes.items()
        if (headline := headline_change(found)) is not None
    }


def referral_nps(*, organization: Organization, referral_ids: Collection[int]) -> dict[int, NpsAnswer]:
    """The patient's NPS answer of each referral that has one; one query."""
    rows = NpsResponse.objects.for_organization(organization).filter(referral_id__in=list(referral_ids))
    return {
        row.referral_id: NpsAnswer(
            score=row.score,
            comment=row.comment,
            answered_on=row.answered_on,
            answered_by_patient=row.answered_by_patient,
        )
        for row in rows
    }


def referral_care_notes(
    *, organization: Organization, referral_ids: Collection[int]
) -> dict[int, list[CareNote]]:
    """Each referral's care notes by date, with their therapist loaded; one query."""
    notes: dict[int, list[CareNote]] = defaultdict(list)
    rows = (
        CareNote.objects.for_organization(organization)
        .filter(referral_id__in=list(referral_ids))
        .select_related("therapist")
        .order_by("noted_on", "pk")
    )
    for note in rows:
        notes[note.referral_id].append(note)
    return dict(notes)


@dataclass(frozen=True)
class NpsSummary:
    """Answers counted by DOMAIN.md's formula: promoters 9–10, passives 7–8, detractors 0–6.

    NPS = % promoters − % detractors, −100 to +100; passives count in the denominator.
    """

    promoters: int
    passives: int
    detractors: int

    @property
    def answers(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def score(self) -> int | None:
        """The NPS, rounded half away from zero; None without answers."""
        if not self.answers:
            return None
        exact = Decimal(100 * (self.promoters - self.detractors)) / self.answers
        return int(exact.quantize(Decimal(1), ROUND_HALF_UP))


# DOMAIN.md's groups, as the score ranges (both ends included) every count of them reads.
NPS_GROUPS: dict[str, tuple[int, int]] = {"promoter": (9, 10), "passive": (7, 8), "detractor": (0, 6)}


def nps_group(group: str, *, field: str = "score") -> Q:
    """Answers of `group` ("promoter", "passive", "detractor") as a condition on the score column `field`."""
    low, high = NPS_GROUPS[group]
    return Q(**{f"{field}__gte": low, f"{field}__lte": high})


def nps_summary(scores: Iterable[int]) -> NpsSummary:
    counted = list(scores)

    def of(group: str) -> int:
        low, high = NPS_GROUPS[group]
        return sum(1 for score in counted if low <= score <= high)

    return NpsSummary(promoters=of("promoter"), passives=of("passive"), detractors=of("detractor"))


def nps_score_of_referral() -> Subquery:
    """The outer query's referral's NPS answer (0–10), None before the patient answers; for annotations."""
    return Subquery(
        NpsResponse.objects.filter(
            organization_id=OuterRef("organization_id"), referral_id=OuterRef("pk")
        ).values("score")[:1]
    )


# Scorecards: what a source's patients (or all the clinic's) got from their care.


@dataclass(frozen=True)
class InstrumentOutcome:
    """One instrument across a scorecard's patients: how many, the mean change, how many reached its MCID."""

    instrument: Instrument
    patients: int
    mean_improvement: Decimal
    # Patients with a verdict: all of them where the instrument has an MCID, none where it has not.
    judged: int
    reached: int

    @property
    def share_reached(self) -> float | None:
        return self.reached / self.judged if self.judged else None

    @property
    def change_words(self) -> str:
        if self.mean_improvement > 0:
            return f"{points(self.mean_improvement)} better"
        if self.mean_improvement < 0:
            return f"{points(-self.mean_improvement)} worse"
        return "no change"


@dataclass(frozen=True)
class Scorecard:
    """A period's referrals of one source (or all), from first contact to the patient's own verdict."""

    since: date
    until: date
    received: int
    evaluated: int
    discharged: int
    # Billing's derived count (`Referral.visits_attended`) averaged over discharged referrals: whole episodes.
    visits_per_episode: Decimal | None
    # From the clinic's day of receipt to the first dated visit, for the referrals seen.
    median_days_to_first_visit: Decimal | None
    first_visits_counted: int
    outcomes: list[InstrumentOutcome]
    # Patients with at least one change; changes with an MCID verdict, and those that reached it.
    patients_with_outcomes: int
    judged_changes: int
    reached_changes: int
    nps: NpsSummary

    @property
    def conversion(self) -> float | None:
        return self.evaluated / self.received if self.received else None

    @property
    def share_reached(self) -> float | None:
        return self.reached_changes / self.judged_changes if self.judged_changes else None


def _median(values: list[int]) -> Decimal | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return Decimal(ordered[middle])
    return Decimal(ordered[middle - 1] + ordered[middle]) / 2


def _mean(values: list[Decimal]) -> Decimal:
    return (sum(values, Decimal(0)) / len(values)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def instrument_outcomes(changes: Iterable[OutcomeChange]) -> list[InstrumentOutcome]:
    by_instrument: dict[str, list[OutcomeChange]] = defaultdict(list)
    for change in changes:
        by_instrument[change.instrument_code].append(change)
    return [
        InstrumentOutcome(
            instrument=measure,
            patients=len(rows),
            mean_improvement=_mean([row.improvement for row in rows]),
            judged=sum(1 for row in rows if row.reached_mcid is not None),
            reached=sum(1 for row in rows if row.reached_mcid),
        )
        for measure in INSTRUMENTS
        if (rows := by_instrument.get(measure.code))
    ]


def scorecard(
    *,
    organization: Organization,
    since: date,
    until: date,
    physician_id: int | None = None,
    clinic_id: int | None = None,
) -> Scorecard:
    """The scorecard of referrals received from `since` to `until` (organization days), all or one source's.

    Five queries whatever the number of referrals: the funnel and episodes
    (one aggregate), the first visits, the scores, the NPS answers.
    """
    zone = organization_zone(organization)
    start, _ = local_day_bounds(since, zone)
    _, end = local_day_bounds(until, zone)
    referrals = Referral.objects.for_organization(organization).filter(received(start, end))
    if physician_id is not None:
        referrals = referrals.filter(physician_id=physician_id)
    if clinic_id is not None:
        referrals = referrals.filter(clinic_id=clinic_id)
    funnel = referrals.aggregate(
        received=Count("pk"),
        evaluated=Count("pk", filter=evaluated_ever()),
        discharged=Count("pk", filter=Q(status=Status.DISCHARGED)),
        visits=Avg("visits_attended", filter=Q(status=Status.DISCHARGED)),
    )
    referral_ids = referrals.values("pk")
    first_visits = (
        Visit.objects.for_organization(organization)
        .filter(referral_id__in=referral_ids)
        .exclude(source=RowSource.MIGRATED)
        .values("referral_id", "referral__received_at", "referral__clinic__timezone")
        .annotate(first=Min("service_date"))
        .order_by()
    )
    days = [
        (
            row["first"]
            - local_date(row["referral__received_at"], ZoneInfo(row["referral__clinic__timezone"]))
        ).days
        for row in first_visits
    ]
    scores = (
        OutcomeScore.objects.for_organization(organization)
        .filter(referral_id__in=referral_ids)
        .only("referral_id", "instrument", "phase", "score", "taken_on")
    )
    changes = changes_from_scores(scores)
    flat = [change for group in changes.values() for change in group]
    answers = NpsResponse.objects.for_organization(organization).filter(referral_id__in=referral_ids)
    visits = funnel["visits"]
    return Scorecard(
        since=since,
        until=until,
        received=funnel["received"],
        evaluated=funnel["evaluated"],
        discharged=funnel["discharged"],
        visits_per_episode=None
        if visits is None
        else Decimal(visits).quantize(Decimal("0.1"), ROUND_HALF_UP),
        median_days_to_first_visit=_median(days),
        first_visits_counted=len(days),
        outcomes=instrument_outcomes(flat),
        patients_with_outcomes=len(changes),
        judged_changes=sum(1 for change in flat if change.reached_mcid is not None),
        reached_changes=sum(1 for change in flat if change.reached_mcid),
        nps=nps_summary(answers.values_list("score", flat=True)),
    )


@dataclass(frozen=True)
class SourceRow:
    """One physician's line on the scorecards list."""

    physician: Physician
    received: int
    evaluated: int
    nps: NpsSummary
    judged_changes: int
    reached_changes: int

    @property
    def conversion(self) -> float | None:
        return self.evaluated / self.received if self.received else None

    @property
    def share_reached(self) -> float | None:
        return self.reached_changes / self.judged_changes if self.judged_changes else None


def scorecard_sources(*, organization: Organization, since: date, until: date) -> list[SourceRow]:
    """Every physician who referred in the period, most referrals first, with their NPS and MCID share.

    Four queries whatever the number of physicians and referrals.
    """
    zone = organization_zone(organization)
    start, _ = local_day_bounds(since, zone)
    _, end = local_day_bounds(until, zone)
    referrals = Referral.objects.for_organization(organization).filter(
        received(start, end), physician__isnull=False
    )
    counts = {
        row["physician_id"]: row
        for row in referrals.values("physician_id")
        .annotate(received=Count("pk"), evaluated=Count("pk", filter=evaluated_ever()))
        .order_by()
    }
    nps_scores: dict[int, list[int]] = defaultdict(list)
    for physician_id, score in (
        NpsResponse.objects.for_organization(organization)
        .filter(referral__in=referrals)
        .values_list("referral__physician_id", "score")
    ):
        nps_scores[physician_id].append(score)
    scores = (
        OutcomeScore.objects.for_organization(organization)
        .filter(referral__in=referrals)
        .annotate(physician_id=F("referral__physician_id"))
        .only("referral_id", "instrument", "phase", "score", "taken_on")
    )
    physician_of = {}
    score_rows = []
    for row in scores:
        physician_of[row.referral_id] = row.physician_id  # annotated above
        score_rows.append(row)
    judged: dict[int, int] = defaultdict(int)
    reached: dict[int, int] = defaultdict(int)
    for referral_id, changes in changes_from_scores(score_rows).items():
        for change in changes:
            if change.reached_mcid is not None:
                judged[physician_of[referral_id]] += 1
                reached[physician_of[referral_id]] += bool(change.reached_mcid)
    physicians = Physician.objects.for_organization(organization).in_bulk(list(counts))
    rows = [
        SourceRow(
            physician=physicians[physician_id],
            received=row["received"],
            evaluated=row["evaluated"],
            nps=nps_summary(nps_scores[physician_id]),
            judged_changes=judged[physician_id],
            reached_changes=reached[physician_id],
        )
        for physician_id, row in counts.items()
    ]
    return sorted(rows, key=lambda row: (-row.received, row.physician.last_name, row.physician.pk))


@dataclass(frozen=True)
class ReferralOutcomes:
    """What a referral's page shows of its care: notes, every score, the changes, the NPS and survey."""

    notes: list[CareNote]
    scores: list[OutcomeScore]
    changes: list[OutcomeChange]
    nps: NpsResponse | None
    survey: NpsSurvey | None

    @property
    def note_kinds(self) -> set[str]:
        return {note.kind for note in self.notes}


def referral_outcomes(*, organization: Organization, referral: Referral) -> ReferralOutcomes:
    """Four queries whatever the number of notes and scores."""
    notes = referral_care_notes(organization=organization, referral_ids=[referral.pk]).get(referral.pk, [])
    scores = list(
        OutcomeScore.objects.for_organization(organization)
        .filter(referral=referral)
        .order_by("taken_on", "pk")
    )
    scores.sort(
        key=lambda row: (INSTRUMENT_ORDER.get(row.instrument, 0), row.taken_on, PHASE_ORDER[Phase(row.phase)])
    )
    return ReferralOutcomes(
        notes=notes,
        scores=scores,
        changes=changes_from_scores(scores).get(referral.pk, []),
        nps=NpsResponse.objects.for_organization(organization).filter(referral=referral).first(),
        survey=NpsSurvey.objects.for_organization(organization).filter(referral=referral).first(),
    )


def nps_answers_between(*, organization: Organization, since: date, until: date) -> list[NpsAnswer]:
    """The NPS answers recorded on days `since` to `until` (both included), newest first; one query."""
    rows = (
        NpsResponse.objects.for_organization(organization)
        .filter(answered_on__gte=since, answered_on__lte=until)
        .order_by("-answered_on", "-pk")
    )
    return [
        NpsAnswer(
            score=row.score,
            comment=row.comment,
            answered_on=row.answered_on,
            answered_by_patient=row.answered_by_patient,
        )
        for row in rows
    ]
