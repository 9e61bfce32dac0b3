"""Care notes, outcome scores and NPS for the demo referrals that reached their evaluation.

Each such referral gets an evaluation note with intake scores on the day it
was marked evaluated; one in care long enough, or discharged after six visits
or more, a progress note halfway; a discharged one a discharge note with its
scores and, from most patients, an NPS answer. The measures follow the body
region (an ODI for a low back, a QuickDASH for a shoulder, a KOOS JR for some
knees, which has no MCID), and the changes follow what outcome studies report:
most patients improve by more than the MCID, about a quarter do not, a few
get worse. Draws are per referral (`random.Random` seeded by organization and
referral), so they do not shift when other referrals change.

Written through `outcomes_create_bulk`, which checks every row by the rules
of the quick form and inserts each table once. A referral that already has a
care note is left alone, so seeding again changes nothing.
"""

import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Exists, OuterRef

from accounts.models import User
from clinics.clock import clinic_zone, local_date, organization_today
from clinics.models import Membership, Organization, Role
from referrals.models import BodyRegion, Referral, Status, StatusChange
from referrals.selectors import evaluated_ever

from .instruments import Better, Instrument, instrument
from .models import CareNote, NoteKind
from .services import CareNoteFields, NpsEntry, OutcomeRecord, ScoreEntry, outcomes_create_bulk

# The measures a therapist takes for each region: alternatives, one picked per patient.
MEASURES: dict[str, tuple[tuple[str, ...], ...]] = {
    BodyRegion.LUMBAR: (("odi", "nprs"), ("odi",), ("foto_lumbar", "nprs")),
    BodyRegion.CERVICAL: (("ndi", "nprs"), ("ndi",)),
    BodyRegion.THORACIC: (("nprs", "psfs"),),
    BodyRegion.SHOULDER: (("quickdash", "nprs"), ("quickdash",), ("quickdash", "psfs")),
    BodyRegion.ELBOW: (("quickdash",), ("quickdash", "nprs")),
    BodyRegion.WRIST_HAND: (("quickdash",),),
    BodyRegion.HIP: (("lefs",), ("hoos_jr",), ("lefs", "nprs")),
    BodyRegion.KNEE: (("lefs",), ("koos_jr",), ("lefs", "nprs"), ("koos_jr", "nprs")),
    BodyRegion.ANKLE_FOOT: (("lefs",), ("lefs", "nprs")),
    BodyRegion.VESTIBULAR: (("psfs",),),
    BodyRegion.NEUROLOGIC: (("psfs", "foto"),),
    BodyRegion.PELVIC: (("psfs",),),
    BodyRegion.MULTIPLE: (("ndi", "odi", "nprs"),),
    BodyRegion.OTHER: (("psfs", "foto"),),
}
# Where a patient starts on each scale, drawn uniformly in the range: on the impaired side.
INTAKE = {
    "lefs": (22, 50),
    "odi": (28, 56),
    "ndi": (12, 28),
    "quickdash": (1, 5),  # a typical item answer; the score comes from the items
    "psfs": (2, 5),
    "koos_jr": (42, 62),
    "hoos_jr": (42, 64),
    "nprs": (4, 8),
    "foto_lumbar": (38, 55),
    "foto": (36, 56),
}
# The change that matters, or for an instrument without one a typical change of a recovered patient.
TYPICAL_CHANGE = {"koos_jr": Decimal(14), "hoos_jr": Decimal(15), "foto": Decimal(9)}
# Shares of patients: past the MCID, short of it, worse; the rest stay about where they were.
RESPONDERS, SHORT, WORSE = 0.72, 0.2, 0.04
NPS_ANSWERED = 0.7
# What the demo reads of a referral (loading whole rows of 2,000 referrals is most of its time).
READ = (
    "organization_id",
    "number",
    "clinic",
    "status",
    "body_region",
    "received_at",
    "therapist_id",
    "visits_attended",
)
MIN_VISITS_FOR_PROGRESS = 6

FINDINGS: dict[str, str] = {
    BodyRegion.LUMBAR: "Pain with flexion and sitting over 20 minutes; lumbar mobility reduced; "
    "neurological screen negative.",
    BodyRegion.CERVICAL: "Neck pain with rotation, weak deep neck flexors; headaches twice a week.",
    BodyRegion.SHOULDER: "Painful arc 80–120°, weak external rotation; sleep disturbed lying on that side.",
    BodyRegion.KNEE: "Knee flexion limited, quadriceps lag, antalgic gait on stairs.",
    BodyRegion.HIP: "Hip stiffness in the morning, weak abductors, Trendelenburg on the affected side.",
    BodyRegion.ANKLE_FOOT: "Swelling and reduced dorsiflexion; single-leg balance under 10 seconds.",
}
DEFAULT_FINDINGS = "Reduced function in daily activities; strength and balance below age norms."
PLAN = "Twice a week for six weeks: graded exercise, manual therapy, home program; recheck at visit 6."
PROGRESS = "Tolerating the program well; pain easing and activity building."
DISCHARGE_FINDINGS = "Goals reviewed at discharge; independent with the home program."
DISCHARGE_PLAN = "Continue the home program three times a week; return if symptoms come back."
NPS_COMMENTS = (
    "The exercises made the difference.",
    "Everyone at the front desk was so helpful with scheduling.",
    "My therapist listened and explained everything.",
    "Parking was hard to find.",
    "I wish the appointments were earlier in the morning.",
    "",
    "",
    "",
)


def seed(stdout=None) -> None:
    for organization in Organization.objects.filter(slug__in=["summit", "harbor"]):
        made = seed_organization(organization)
        if stdout is not None:
            stdout.write(f"{organization.name}: {made} care notes with outcome scores")


def _step(value: Decimal, measure: Instrument) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-measure.decimal_places), ROUND_HALF_UP)


def _clamped(value: Decimal, measure: Instrument) -> Decimal:
    return _step(min(max(value, measure.minimum), measure.maximum), measure)


def _intake(rng: random.Random, code: str) -> ScoreEntry:
    low, high = INTAKE[code]
    measure = instrument(code)
    if measure.items is not None:
        # Answers around the patient's typical one; now and then an item left blank (10 of 11 still score).
        centre = rng.uniform(low + 0.8, high - 1.2)
        items = [min(high, max(low, round(rng.gauss(centre, 0.7)))) for _ in range(measure.items.count)]
        answers: list[int | None] = list(items)
        if rng.random() < 0.15:
            answers[rng.randrange(len(answers))] = None
        return ScoreEntry(instrument=code, items=tuple(answers))
    return ScoreEntry(instrument=code, score=_clamped(Decimal(str(rng.uniform(low, high))), measure))


def _later(intake: Decimal, measure: Instrument, improvement: Decimal) -> ScoreEntry:
    direction = 1 if measure.better is Better.HIGHER else -1
    return ScoreEntry(instrument=measure.code, score=_clamped(intake + direction * improvement, measure))


def _improvement(rng: random.Random, measure: Instrument, intake: Decimal, fate: str) -> Decimal:
    """The change by discharge in the improving direction, by the patient's fate, scaled to the instrument."""
    scale = measure.mcid_for(intake) or TYPICAL_CHANGE[measure.code]
    factor = {
        "responder": rng.uniform(1.1, 2.6),
        "short": rng.uniform(0.2, 0.9),
        "worse": -rng.uniform(0.2, 0.8),
        "same": rng.uniform(-0.15, 0.15),
    }[fate]
    return scale * Decimal(str(round(factor, 3)))


def _fate(rng: random.Random) -> str:
    draw = rng.random()
    if draw < RESPONDERS:
        return "responder"
    if draw < RESPONDERS + SHORT:
        return "short"
    if draw < RESPONDERS + SHORT + WORSE:
        return "worse"
    return "same"


def _nps_score(rng: random.Random, fate: str) -> int:
    if fate == "responder":
        return rng.choices(range(11), weights=[0, 0, 0, 0, 0, 1, 1, 3, 6, 14, 20])[0]
    return rng.choices(range(11), weights=[1, 1, 1, 2, 3, 4, 4, 6, 6, 4, 3])[0]


def _record(
    referral: Referral,
    *,
    evaluated_on: date,
    ended_on: date | None,
    today: date,
    therapist: User | None,
    rng: random.Random,
) -> OutcomeRecord:
    """One referral's notes and scores, from its evaluation to its discharge (or today)."""
    codes = rng.choice(MEASURES.get(referral.body_region, MEASURES[BodyRegion.OTHER]))
    fate = _fate(rng)
    intake_entries = [_intake(rng, code) for code in codes]
    intakes = {entry.instrument: entry.total() for entry in intake_entries}
    improvements = {code: _improvement(rng, instrument(code), intakes[code], fate) for code in codes}
    notes: list[tuple[CareNoteFields, Sequence[ScoreEntry]]] = [
        (
            CareNoteFields(
                kind=NoteKind.EVALUATION,
                noted_on=evaluated_on,
                therapist=therapist,
                findings=FINDINGS.get(referral.body_region, DEFAULT_FINDINGS),
                plan=PLAN,
            ),
            intake_entries,
        )
    ]
    discharged = referral.status == Status.DISCHARGED and ended_on is not None
    last_day = ended_on or today
    if (referral.visits_attended >= MIN_VISITS_FOR_PROGRESS or not discharged) and (
        last_day - evaluated_on
    ).days >= 14:
        halfway = evaluated_on + timedelta(days=(last_day - evaluated_on).days // 2)
        notes.append(
            (
                CareNoteFields(
                    kind=NoteKind.PROGRESS,
                    noted_on=halfway,
                    therapist=therapist,
                    findings=PROGRESS,
                    plan=PLAN,
                ),
                [_later(intakes[code], instrument(code), improvements[code] / 2) for code in codes],
            )
        )
    nps, nps_on, by_patient = None, None, False
    if discharged and ended_on is not None:
        notes.append(
            (
                CareNoteFields(
                    kind=NoteKind.DISCHARGE,
                    noted_on=ended_on,
                    therapist=therapist,
                    findings=DISCHARGE_FINDINGS,
                    plan=DISCHARGE_PLAN,
                ),
                [_later(intakes[code], instrument(code), improvements[code]) for code in codes],
            )
        )
        if rng.random() < NPS_ANSWERED:
            nps = NpsEntry(score=_nps_score(rng, fate), comment=rng.choice(NPS_COMMENTS))
            nps_on = min(ended_on + timedelta(days=rng.randint(0, 6)), today)
            by_patient = rng.random() < 0.5
    return OutcomeRecord(referral=referral, notes=notes, nps=nps, nps_on=nps_on, nps_by_patient=by_patient)


@transaction.atomic
def seed_organization(organization: Organization) -> int:
    """Outcome histories for the organization's evaluated referrals that have none; the notes made."""
    today = organization_today(organization)
    referrals = list(
        Referral.objects.for_organization(organization)
        .filter(evaluated_ever())
        .exclude(Exists(CareNote.objects.filter(organization=organization, referral_id=OuterRef("pk"))))
        .select_related("clinic")
        .only(*READ, "clinic__timezone")
        .order_by("pk")
    )
    moments: dict[int, dict[str, datetime]] = {}
    changes = (
        StatusChange.objects.filter(
            organization=organization, to_status__in=[Status.EVALUATED, Status.DISCHARGED, Status.LOST]
        )
        .order_by("changed_at", "pk")
        .values_list("referral_id", "to_status", "changed_at")
    )
    for referral_id, to_status, changed_at in changes:
        moments.setdefault(referral_id, {}).setdefault(to_status, changed_at)
    therapists = {
        membership.user_id: membership.user
        for membership in Membership.objects.filter(
            organization=organization, role=Role.THERAPIST
        ).select_related("user")
    }
    fallback = next(iter(therapists.values()), None)
    records = []
    for referral in referrals:
        zone = clinic_zone(referral.clinic)
        steps = moments.get(referral.pk, {})
        evaluated_on = local_date(steps.get(Status.EVALUATED, referral.received_at), zone)
        ended = steps.get(Status.DISCHARGED) or steps.get(Status.LOST)
        rng = random.Random(f"outcomes-{organization.slug}-{referral.pk}")  # noqa: S311 (demo data, not secrets)
        records.append(
            _record(
                referral,
                evaluated_on=evaluated_on,
                ended_on=local_date(ended, zone) if ended else None,
                today=today,
                therapist=therapists.get(referral.therapist_id, fallback)
                if referral.therapist_id
                else fallback,
                rng=rng,
            )
        )
    return outcomes_create_bulk(organization=organization, records=records)
