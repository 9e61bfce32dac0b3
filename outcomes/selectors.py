"""Reads of outcomes, care notes and NPS: batched by referral, a fixed number of queries, one organization.

Every selector takes the organization and a collection of referral ids and
answers for the ids of that organization only; an id of another organization
is simply absent from the answer. A referral with nothing to report is absent
too: read the answers with `.get(referral_id, [])`.
"""

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from clinics.models import Organization

from .instruments import BY_CODE, INSTRUMENTS
from .models import CareNote, NpsResponse, OutcomeScore, Phase


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


def nps_summary(scores: Iterable[int]) -> NpsSummary:
    counted = list(scores)
    return NpsSummary(
        promoters=sum(1 for score in counted if score >= 9),
        passives=sum(1 for score in counted if 7 <= score <= 8),
        detractors=sum(1 for score in counted if score <= 6),
    )
