"""Demo referrals for `manage.py seed_demo`: 18 months of each organization's pipeline.

How it stays deterministic and idempotent:

1. Each organization has a fixed random seed, and each referral its own
   generator seeded from it, so one referral's draws never shift the
   next one's: the same patients, sources, diagnoses and fates come out on
   every run. Only their dates move with the day of seeding, and with them
   the few choices that hang on a date (a patient's age-based payer, a
   physician who had gone cold by then).
2. Those fates are laid out relative to the moment of seeding (older
   referrals were discharged months ago), so a later run could not match
   them row by row. An organization is therefore seeded once, all or
   nothing in one transaction, and one that already has referrals (demo or
   typed in while trying Rapport out) is left exactly as it is.
3. Chance alone leaves the pipeline's recent steps to the day of seeding: on
   some days no recent referral happens to be waiting between the first call
   and the booking. So a few `standings()` are laid out in business days
   before the clinic's today, the way the contact deadline counts them: one
   referral at each open step, some late for their first call and one still
   on time, plans of care awaiting signature, overdue and due for
   recertification. They hold on any day: a weekend, a daylight-saving
   change, a month's or a year's end.
4. Rows are written in bulk, already in their final state, through
   `referrals_create_bulk`: the one bulk path, which applies the rules of
   `referral_create`, `referral_transition`, `referral_update` and
   `plan_of_care_save` and writes the history they would have written,
   backdated to each step. One referral at a time through those services
   took 18 s for the two organizations, and would stamp every step "now".
"""

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from clinics.clock import clinic_zone, local_date, organization_today
from clinics.models import Clinic, Membership, Organization, Payer, PayerCategory, Role, ServiceOffering
from physicians.models import Physician, Stage, StageChange, Tier

from .models import (
    BodyRegion,
    Channel,
    ContactMethod,
    ContactOutcome,
    LossReason,
    Priority,
    Referral,
    SourceType,
    Status,
)
from .selectors import referral_settings_get
from .services import (
    ContactAttemptFields,
    ContactAttemptRecord,
    FirstAppointment,
    PlanOfCareFields,
    ReferralCare,
    ReferralIntake,
    ReferralRecord,
    ReferralStep,
    referrals_create_bulk,
)

# Referrals received over the last 18 months, per organization slug.
VOLUME = {"summit": 1500, "harbor": 600}
HISTORY_DAYS = 548
AREA_CODES = {"summit": ("303", "720"), "harbor": ("617", "857")}


@dataclass(frozen=True)
class Condition:
    region: str
    code_sets: tuple[tuple[str, ...], ...]  # alternatives, e.g. right or left side
    born: tuple[int, int]  # who has it: a range of birth years
    post_op: float  # share referred after surgery
    visits: float  # mean visits in an episode of care
    program: str = ""  # the service offering that treats it, where a clinic has one


# Tables are easier to read aligned than one value per line.
# fmt: off
CONDITIONS = {
    "low_back": Condition(BodyRegion.LUMBAR, (("M54.50",), ("M54.59",), ("M54.16",), ("M48.061",),
                          ("M54.50", "G89.29")), (1940, 2005), 0.03, 10),
    "neck": Condition(BodyRegion.CERVICAL, (("M54.2",), ("M54.12",)), (1945, 2005), 0, 10),
    "whiplash": Condition(BodyRegion.CERVICAL, (("S13.4XXA",), ("S13.4XXA", "M54.2")), (1950, 2007), 0, 10),
    "car_crash": Condition(BodyRegion.MULTIPLE, (("S13.4XXA", "M54.50"),), (1950, 2007), 0, 12),
    "thoracic": Condition(BodyRegion.THORACIC, (("M54.6",),), (1950, 2005), 0, 8.5),
    "rotator_cuff": Condition(BodyRegion.SHOULDER, (("M75.101",), ("M75.102",)), (1945, 1990), 0.45, 13),
    "shoulder": Condition(BodyRegion.SHOULDER, (("M75.41",), ("M75.42",), ("M75.01",), ("M75.02",),
                          ("M25.511",), ("M25.512",)), (1945, 2000), 0, 10),
    "knee_oa": Condition(BodyRegion.KNEE, (("M17.11",), ("M17.12",)), (1940, 1975), 0, 9.5),
    "knee_pain": Condition(BodyRegion.KNEE, (("M25.561",), ("M25.562",)), (1950, 2010), 0, 8.5),
    "acl": Condition(BodyRegion.KNEE, (("S83.511A",), ("S83.512A",)), (1980, 2010), 0.6, 16, "Sports rehab"),
    "knee_replacement": Condition(BodyRegion.KNEE, (("Z47.1", "Z96.651"), ("Z47.1", "Z96.652")),
                                  (1940, 1970), 1, 13, "Post-op orthopedics"),
    "hip_oa": Condition(BodyRegion.HIP, (("M16.11",), ("M16.12",)), (1940, 1975), 0, 9.5),
    "hip_pain": Condition(BodyRegion.HIP, (("M25.551",), ("M25.552",)), (1950, 2005), 0, 8.5),
    "hip_replacement": Condition(BodyRegion.HIP, (("Z47.1", "Z96.641"), ("Z47.1", "Z96.642")),
                                 (1940, 1970), 1, 11, "Post-op orthopedics"),
    "ankle_sprain": Condition(BodyRegion.ANKLE_FOOT, (("S93.401A",), ("S93.402A",)), (1975, 2010), 0, 8,
                              "Sports rehab"),
    "plantar_fasciitis": Condition(BodyRegion.ANKLE_FOOT, (("M72.2",),), (1955, 2000), 0, 8,
                                   "Running clinic"),
    "achilles": Condition(BodyRegion.ANKLE_FOOT, (("M76.61",), ("M76.62",)), (1960, 2000), 0, 9,
                          "Running clinic"),
    "tennis_elbow": Condition(BodyRegion.ELBOW, (("M77.11",), ("M77.12",)), (1955, 1995), 0, 8,
                              "Hand therapy"),
    "carpal_tunnel": Condition(BodyRegion.WRIST_HAND, (("G56.01",), ("G56.02",)), (1950, 1995), 0.3, 9,
                               "Hand therapy"),
    "wrist_pain": Condition(BodyRegion.WRIST_HAND, (("M25.531",), ("M25.532",)), (1950, 2008), 0, 8,
                            "Hand therapy"),
    "dizziness": Condition(BodyRegion.VESTIBULAR, (("R42",), ("H81.11",), ("H81.12",)), (1940, 1990), 0, 6,
                           "Vestibular rehab"),
    "falls": Condition(BodyRegion.VESTIBULAR, (("R26.81", "Z91.81"), ("R26.89", "M62.81")), (1940, 1962), 0,
                       10, "Vestibular rehab"),
    "gait": Condition(BodyRegion.OTHER, (("R26.2",), ("M62.81",)), (1940, 1965), 0, 10, "Aquatic therapy"),
    "incontinence": Condition(BodyRegion.PELVIC, (("N39.3",), ("N39.41",), ("N39.46",)), (1950, 1998), 0, 8,
                              "Pelvic health"),
    "stroke": Condition(BodyRegion.NEUROLOGIC, (("I69.351", "R26.89"),), (1940, 1970), 0, 16, "Neuro rehab"),
}

# Which conditions each kind of source sends, with weights.
ORTHO = {"rotator_cuff": 3, "shoulder": 3, "knee_oa": 3, "knee_pain": 2, "acl": 2, "knee_replacement": 3,
         "hip_replacement": 2, "hip_oa": 2, "ankle_sprain": 1, "low_back": 1, "tennis_elbow": 1}
SPORTS = {"acl": 4, "knee_pain": 3, "ankle_sprain": 3, "shoulder": 3, "rotator_cuff": 2, "achilles": 2,
          "tennis_elbow": 1}
JOINTS = {"knee_replacement": 6, "hip_replacement": 4, "knee_oa": 2, "hip_oa": 2}
HAND = {"carpal_tunnel": 4, "wrist_pain": 4, "tennis_elbow": 2}
FOOT = {"ankle_sprain": 3, "plantar_fasciitis": 4, "achilles": 3}
SPINE = {"low_back": 6, "neck": 4, "thoracic": 1}
PRIMARY_CARE = {"low_back": 6, "neck": 3, "knee_oa": 3, "knee_pain": 2, "shoulder": 3, "hip_pain": 2,
                "falls": 2, "gait": 1, "dizziness": 1, "plantar_fasciitis": 1, "tennis_elbow": 1,
                "thoracic": 1, "incontinence": 1}
WOMENS_HEALTH = {"incontinence": 8, "low_back": 2, "hip_pain": 1}
NEUROLOGY = {"dizziness": 4, "stroke": 3, "falls": 3, "gait": 1, "neck": 1}
REHAB_MEDICINE = {"low_back": 3, "neck": 2, "stroke": 2, "falls": 2, "gait": 1, "car_crash": 1}
RHEUMATOLOGY = {"knee_oa": 3, "hip_oa": 2, "shoulder": 2, "low_back": 2, "wrist_pain": 1}
CHIROPRACTIC = {"low_back": 4, "neck": 3, "whiplash": 2, "car_crash": 1}
SELF_REFERRED = {"low_back": 4, "neck": 2, "shoulder": 2, "knee_pain": 2, "ankle_sprain": 1,
                 "plantar_fasciitis": 1, "incontinence": 1, "dizziness": 1, "tennis_elbow": 1}
ON_THE_JOB = {"low_back": 4, "shoulder": 2, "carpal_tunnel": 2, "knee_pain": 1, "wrist_pain": 1}
INJURY_CLAIM = {"whiplash": 4, "car_crash": 3, "low_back": 2}
# By NUCC taxonomy; any other specialty refers like primary care.
TAXONOMY_MIX = {
    "207X00000X": ORTHO, "363A00000X": ORTHO, "207XS0114X": JOINTS, "207XS0106X": HAND,
    "207XX0005X": SPORTS, "207QS0010X": SPORTS, "207RS0010X": SPORTS, "2081S0010X": SPORTS,
    "207XX0004X": FOOT, "213E00000X": FOOT,
    "207XS0117X": SPINE, "207T00000X": SPINE, "208VP0000X": SPINE, "2081P2900X": SPINE,
    "207V00000X": WOMENS_HEALTH, "207VG0400X": WOMENS_HEALTH, "2084N0400X": NEUROLOGY,
    "208100000X": REHAB_MEDICINE, "207RR0500X": RHEUMATOLOGY, "111N00000X": CHIROPRACTIC,
}
# source type: (weight, conditions, channels with weights, names of who referred)
SOURCES = {
    SourceType.PHYSICIAN: (84, PRIMARY_CARE, {Channel.FAX: 55, Channel.PHONE: 14, Channel.E_REFERRAL: 17,
                                              Channel.EMAIL: 5, Channel.PORTAL: 9}, ()),
    SourceType.DIRECT_ACCESS: (10, SELF_REFERRED, {Channel.PHONE: 55, Channel.WALK_IN: 20, Channel.PORTAL: 15,
                                                   Channel.EMAIL: 10}, ()),
    SourceType.ATTORNEY: (2, INJURY_CLAIM, {Channel.PHONE: 40, Channel.FAX: 35, Channel.EMAIL: 25},
                          ("Keller & Ruiz Injury Law", "Bramwell Law Group", "Ostrander & Vale, PC")),
    SourceType.EMPLOYER: (2, ON_THE_JOB, {Channel.PHONE: 40, Channel.EMAIL: 35, Channel.FAX: 25},
                          ("Ridgeline Freight", "Northgate Distribution Center", "Cobalt Manufacturing")),
    SourceType.PATIENT: (1.5, SELF_REFERRED, {Channel.PHONE: 70, Channel.WALK_IN: 30},
                         ("Former patient", "Family of a patient")),
    SourceType.OTHER: (0.5, SELF_REFERRED, {Channel.PHONE: 60, Channel.EMAIL: 40},
                       ("Health fair screening", "Running club talk")),
}

# Payer categories by age; a claim or a job injury decides the payer by itself.
PAYERS_UNDER_65 = {
    PayerCategory.COMMERCIAL: 62, PayerCategory.MEDICAID: 14, PayerCategory.SELF_PAY: 5,
    PayerCategory.VA_TRICARE: 5, PayerCategory.WORKERS_COMP: 4, PayerCategory.AUTO_PIP: 2,
    PayerCategory.MEDICARE: 2, "": 6,  # not known yet at intake
}
PAYERS_65_AND_OVER = {
    PayerCategory.MEDICARE: 45, PayerCategory.MEDICARE_ADVANTAGE: 38, PayerCategory.COMMERCIAL: 7,
    PayerCategory.VA_TRICARE: 5, PayerCategory.SELF_PAY: 2, "": 3,
}

# Where a referral ends when it does not complete care: (status it is lost from, reason) → weight in %;
# the rest of 100 completes.
LOSSES = {
    (Status.RECEIVED, LossReason.UNREACHABLE): 5,
    (Status.RECEIVED, LossReason.PHYSICIAN_CANCELLED): 1,
    (Status.RECEIVED, LossReason.OTHER): 0.5,
    (Status.CONTACTED, LossReason.UNREACHABLE): 2.5,
    (Status.CONTACTED, LossReason.DECLINED): 2,
    (Status.CONTACTED, LossReason.OTHER_PROVIDER): 2.5,
    (Status.CONTACTED, LossReason.INSURANCE): 1,
    (Status.SCHEDULED, LossReason.DECLINED): 1.5,
    (Status.SCHEDULED, LossReason.OTHER_PROVIDER): 1,
    (Status.SCHEDULED, LossReason.PHYSICIAN_CANCELLED): 0.5,
    (Status.SCHEDULED, LossReason.OTHER): 0.5,
    (Status.IN_CARE, LossReason.DECLINED): 1.5,  # drops out after a visit or three
    (Status.IN_CARE, LossReason.OTHER): 0.5,
}
# fmt: on
# A patient whose insurance the clinic does not take is often lost on the first call.
OUT_OF_NETWORK_LOSS = 30

# How much a physician sends, by relationship stage (and tier when maintaining).
# Prospects have never referred; dormant ones used to, until they went cold.
STAGE_WEIGHT: dict[str, float] = {Stage.BUILDING_TRUST: 2.5, Stage.FIRST_IMPRESSION: 0.3, Stage.DORMANT: 4}
TIER_WEIGHT: dict[str, int] = {Tier.A: 10, Tier.B: 5, Tier.C: 3}
# The few core physicians a practice depends on: each one's share of physician referrals.
CORE_SHARES = (0.12, 0.09, 0.07)
# Regular sources who have started to slip: far fewer referrals over the last months.
SLIPPING = 3
SLIPPING_DAYS = 90
SLIPPING_DROP = 0.9

# Made up, and unlike any staff, physician or gatekeeper name in the demo.
# fmt: off
PATIENT_FIRST_NAMES = [
    "Alma", "Bruce", "Carmen", "Dale", "Edith", "Felipe", "Gloria", "Harold", "Irene", "Jerome", "Kendra",
    "Lonnie", "Marisol", "Neil", "Opal", "Preston", "Rhonda", "Stanley", "Tamara", "Vernon", "Wanda",
    "Xavier", "Yvonne", "Zachary", "Bianca", "Curtis", "Dolores", "Emmett", "Frances", "Gilbert", "Hazel",
    "Ivan", "Joyce", "Kurt", "Lorraine", "Mitchell", "Noelle", "Oscar", "Phyllis", "Rodney", "Shirley",
    "Tyrone", "Ursula", "Wesley", "Yolanda", "Dmitri", "Keiko", "Anh", "Tariq", "Ngozi",
]
PATIENT_LAST_NAMES = [
    "Abbott", "Barlow", "Cordero", "Dunmore", "Ellison", "Farrow", "Galloway", "Holloway", "Iverson",
    "Jaramillo", "Kimura", "Lockhart", "Mercado", "Norwood", "Oyelaran", "Pruitt", "Quezada", "Rasmussen",
    "Sandoval", "Tanaka", "Upton", "Villanueva", "Wendt", "Yoder", "Zeller", "Ashby", "Beltran", "Crowley",
    "Dubois", "Eskew", "Fairbanks", "Grimaldi", "Hendrix", "Ito", "Kovacs", "Lam", "Mahoney", "Nilsen",
    "Ochoa", "Pham", "Rios", "Stroud", "Trujillo", "Vance", "Whitlock", "Acheampong", "Hoang", "Szabo",
]
# fmt: on
NOTES = [
    "Prefers afternoon appointments.",
    "Spanish interpreter requested.",
    "Call the mobile number; works nights.",
    "Wants to start after a trip next week.",
    "Asked for a therapist who treats runners.",
]
POST_OP_NOTES = [
    "Surgeon's protocol attached.",
    "Sling for 4 weeks per op note.",
    "Weight bearing as tolerated.",
]

# Clinic hours: steps the staff take happen on weekdays in this window, local time.
OPENS, CLOSES = 7, 19
SATURDAY = 5
MAX_VISITS = 30
# Steps the therapist records; the front desk records the others.
CLINICAL_STEPS = (Status.EVALUATED, Status.IN_CARE, Status.DISCHARGED)


@dataclass
class _Directory:
    """Everything a referral is drawn from, loaded once per organization."""

    organization: Organization
    clinics: list[Clinic]
    clinic_weights: list[float]
    in_network: dict[int, set[int]]
    program_clinics: dict[str, Clinic]
    payers: dict[str, list[Payer]]
    physicians: list[Physician]
    physician_weights: list[float]
    steady: list[Physician]
    steady_weights: list[float]
    dormant_since: dict[int, datetime]
    slipping: set[int]
    front_desk: User | None
    therapist: User | None


@dataclass(frozen=True)
class Standing:
    """A referral that stands at one step of the pipeline whatever the day of seeding.

    Each step is a number of business days before the clinic's today, counted
    as the contact deadline counts them (`referrals.sla.business_days_waiting`):
    0 is today, or the last business day when today is not one. A referral
    received on day 0 arrived at the latest business-hours moment before now.
    """

    received: int
    contacted: int | None = None
    scheduled: int | None = None
    evaluated: int | None = None
    in_care: bool = False  # visits go on twice a week after the evaluation
    plan_signed: bool = False
    # Tries without reaching the patient, one a business day from receipt on.
    attempts: int = 0
    # Scheduled for an evaluation this many business days ago that nobody recorded since.
    missed: int | None = None


@dataclass
class _Plan:
    """One referral as it will be logged, with the steps it has taken by now."""

    fields: dict
    steps: list[tuple[str, datetime, str]]
    visits: int
    billed_per_visit: Decimal
    collected_per_visit: Decimal
    standing: Standing | None = None
    # The evaluation booked when it was scheduled (at its clinic), kept or still ahead.
    appointment_at: datetime | None = None
    # The desk's tries at reaching the patient: (method, outcome, when, note).
    attempts: list[tuple[str, str, datetime, str]] = field(default_factory=list)


def standings(organization: Organization) -> list[Standing]:
    """The referrals that show every part of the pipeline right after seeding, on any day."""
    rules = referral_settings_get(organization=organization)
    sla = rules.contact_sla_business_days
    # n business days back are n + 2 × (n // 5) calendar days back, or up to
    # four more around weekends: past the signature deadline by a few days,
    # and inside the recertification notice but before the certification ends.
    overdue_plan = (rules.poc_signature_days + 3) * 5 // 7 + 2
    recertifying = (rules.poc_certification_days - 10) * 5 // 7
    late = max(3, VOLUME.get(organization.slug, 0) // 250)
    give_up = rules.unreachable_after_attempts
    return [
        # Arrived within the contact deadline: the next call to make.
        Standing(received=0),
        # A front desk that has fallen behind: one to four business days late, a try or two made.
        *(Standing(received=sla + 1 + i % 4, attempts=i % 3) for i in range(late)),
        # Tried as often as the organization allows without reaching the patient: "lost: unreachable?"
        Standing(received=give_up + 1, attempts=give_up),
        # Called, evaluation not booked yet.
        Standing(received=2, contacted=1),
        # Booked on the first call, evaluation ahead.
        Standing(received=3, scheduled=2),
        # Booked, the evaluation's day over, nothing recorded: a no-show nobody followed up yet.
        Standing(received=6, scheduled=5, missed=1),
        # Evaluated, plan of care sent and awaiting the physician's signature.
        Standing(received=8, contacted=8, scheduled=7, evaluated=2),
        # In care for weeks, the plan still unsigned: overdue.
        Standing(received=overdue_plan + 4, scheduled=overdue_plan + 3, evaluated=overdue_plan, in_care=True),
        # In care for close to a certification period: recertification due.
        Standing(
            received=recertifying + 4,
            scheduled=recertifying + 3,
            evaluated=recertifying,
            in_care=True,
            plan_signed=True,
        ),
    ]


def seed(stdout=None) -> None:
    for organization in Organization.objects.filter(slug__in=VOLUME):
        seed_organization(organization)
        if stdout is not None:
            count = Referral.objects.for_organization(organization).count()
            stdout.write(f"{organization.name}: {count} referrals")


@transaction.atomic
def seed_organization(organization: Organization) -> None:
    if Referral.objects.for_organization(organization).exists():
        return
    rng = random.Random(f"rapport-demo-referrals-{organization.slug}")  # noqa: S311 (demo data, not secrets)
    directory = _load_directory(organization, rng)
    now = timezone.now()
    plans = [_draw(_generator(rng), directory, now) for _ in range(VOLUME[organization.slug])]
    plans += [_draw(_generator(rng), directory, now, standing) for standing in standings(organization)]
    plans.sort(key=lambda plan: plan.fields["received_at"])
    _save(organization, directory, plans)


def _generator(rng: random.Random) -> random.Random:
    return random.Random(rng.getrandbits(64))  # noqa: S311 (demo data, not secrets)


def _member(organization: Organization, *roles: str) -> User | None:
    """The first active member holding the first of `roles` that anyone holds."""
    for role in roles:
        membership = (
            Membership.objects.filter(organization=organization, role=role, is_active=True)
            .select_related("user")
            .order_by("user__username")
            .first()
        )
        if membership:
            return membership.user
    return None


def _load_directory(organization: Organization, rng: random.Random) -> _Directory:
    clinics = list(Clinic.objects.for_organization(organization).prefetch_related("payers").order_by("name"))
    payers: dict[str, list[Payer]] = {}
    for payer in Payer.objects.for_organization(organization).order_by("name"):
        payers.setdefault(payer.category, []).append(payer)
    program_clinics = {
        offering.name: offering.clinic
        for offering in ServiceOffering.objects.for_organization(organization).select_related("clinic")
    }
    physicians = list(
        Physician.objects.for_organization(organization)
        .filter(is_active=True)
        .exclude(stage=Stage.PROSPECT)
        .order_by("npi", "pk")
    )
    weights = [
        TIER_WEIGHT[p.tier] if p.stage == Stage.MAINTAINING else STAGE_WEIGHT[p.stage] for p in physicians
    ]
    weights = [weight * rng.uniform(0.5, 1.5) for weight in weights]
    regulars = [i for i, p in enumerate(physicians) if p.stage == Stage.MAINTAINING]
    core_candidates = [i for i in regulars if physicians[i].tier == Tier.A] or regulars
    core = rng.sample(core_candidates, k=min(len(CORE_SHARES), len(core_candidates)))
    others = sum(weight for i, weight in enumerate(weights) if i not in core)
    shares = CORE_SHARES[: len(core)]
    for i, share in zip(core, shares, strict=True):
        weights[i] = share * others / (1 - sum(shares))
    # Busy regulars, skipping the two biggest sources: a drop there is large
    # enough to tell from chance, which is what the daily job looks for.
    busiest = sorted(regulars, key=lambda i: -weights[i])
    slipping = {physicians[i].pk for i in busiest[2 : 2 + SLIPPING]}
    dormant_since = dict(
        StageChange.objects.for_organization(organization)
        .filter(to_stage=Stage.DORMANT, physician__stage=Stage.DORMANT)
        .values_list("physician_id", "changed_at")
    )
    steady = [
        (p, w)
        for p, w in zip(physicians, weights, strict=True)
        if p.stage != Stage.DORMANT and p.pk not in slipping
    ]
    return _Directory(
        organization=organization,
        clinics=clinics,
        clinic_weights=[rng.uniform(2, 4) for _ in clinics],
        in_network={clinic.pk: {payer.pk for payer in clinic.payers.all()} for clinic in clinics},
        program_clinics=program_clinics,
        payers=payers,
        physicians=physicians,
        physician_weights=weights,
        steady=[p for p, _ in steady],
        steady_weights=[w for _, w in steady],
        dormant_since=dormant_since,
        slipping=slipping,
        front_desk=_member(organization, Role.FRONT_DESK, Role.ADMIN),
        therapist=_member(organization, Role.THERAPIST),
    )


def _pick(rng: random.Random, weighted: dict):
    return rng.choices(list(weighted), weights=list(weighted.values()))[0]


def _business(when: datetime, zone: ZoneInfo) -> datetime:
    """`when`, or the next moment the clinic is open if it is closed then."""
    local = when.astimezone(zone)
    if local.hour >= CLOSES:
        local = (local + timedelta(days=1)).replace(hour=OPENS + local.hour % 3)
    elif local.hour < OPENS:
        local = local.replace(hour=OPENS + local.hour % 3)
    while local.weekday() >= SATURDAY:
        local = (local + timedelta(days=1)).replace(hour=OPENS + local.hour % 3)
    return local


def _booked_slot(visit: datetime) -> datetime:
    """The appointment a visit was booked for: the quarter hour it began in (noted a little later)."""
    return visit.replace(minute=visit.minute // 15 * 15, second=0, microsecond=0)


def business_day(today: date, count: int) -> date:
    """The latest business day from which `count` business days have passed by `today`.

    The inverse of `business_days_waiting`: 0 is today, or the last business
    day before it when today is a weekend day.
    """
    day = today
    while day.weekday() >= SATURDAY:
        day -= timedelta(days=1)
    for _ in range(count):
        day -= timedelta(days=1)
        while day.weekday() >= SATURDAY:
            day -= timedelta(days=1)
    return day


def _latest_business_moment(now: datetime, zone: ZoneInfo) -> datetime:
    """A quarter of an hour before now if the clinic is open then, else late on its last business day."""
    local = (now - timedelta(minutes=15)).astimezone(zone).replace(second=0, microsecond=0)
    if local.weekday() < SATURDAY and local.hour >= 8:
        return min(local, local.replace(hour=16, minute=30))
    day = business_day(local.date() - timedelta(days=1), 0)
    return datetime.combine(day, time(16, 30), tzinfo=zone)


def _draw(
    rng: random.Random, directory: _Directory, now: datetime, standing: Standing | None = None
) -> _Plan:
    """One referral, from its source to the steps it has taken by `now`; a standing's, if given."""
    # 1. Who sent it, when, and what for. A standing comes from a physician,
    #    who certifies its plan of care.
    source_type = _pick(rng, {source: spec[0] for source, spec in SOURCES.items()})
    if standing is not None:
        source_type = SourceType.PHYSICIAN
    _, conditions, channels, names = SOURCES[source_type]
    days_ago = rng.triangular(0, HISTORY_DAYS, 0) if rng.random() < 0.15 else rng.uniform(0, HISTORY_DAYS)
    if standing is not None:
        days_ago = standing.received * 7 / 5
    minute_of_day = round(rng.triangular(6 * 60, 20 * 60, 10 * 60))
    weekend_kept = rng.random() < 0.12
    physician = None
    if source_type == SourceType.PHYSICIAN:
        physician = rng.choices(directory.physicians, weights=directory.physician_weights)[0]
        if not _still_referring(directory, physician, now - timedelta(days=days_ago), now, rng.random()):
            physician = rng.choices(directory.steady, weights=directory.steady_weights)[0]
        conditions = TAXONOMY_MIX.get(physician.taxonomy_code, PRIMARY_CARE)
    condition = CONDITIONS[_pick(rng, conditions)]
    codes = list(rng.choice(condition.code_sets))
    post_op = rng.random() < condition.post_op
    priority = Priority.POST_OP if post_op else (Priority.URGENT if rng.random() < 0.05 else Priority.ROUTINE)

    # 2. The patient (made up: 555-01xx numbers are reserved for fiction) and their insurance.
    first_name, last_name = rng.choice(PATIENT_FIRST_NAMES), rng.choice(PATIENT_LAST_NAMES)
    birth_date = date(rng.randint(*condition.born), 1, 1) + timedelta(days=rng.randrange(365))
    phone = f"({rng.choice(AREA_CODES[directory.organization.slug])}) 555-01{rng.randrange(100):02d}"
    email = (
        f"{first_name}.{last_name}{rng.randrange(10, 100)}@example.com".lower() if rng.random() < 0.4 else ""
    )
    age = ((now - timedelta(days=days_ago)).date() - birth_date).days // 365
    if source_type == SourceType.EMPLOYER:
        category = PayerCategory.WORKERS_COMP
    elif source_type == SourceType.ATTORNEY or condition.region == BodyRegion.MULTIPLE:
        category = PayerCategory.AUTO_PIP
    else:
        category = _pick(rng, PAYERS_65_AND_OVER if age >= 65 else PAYERS_UNDER_65)
    options = directory.payers.get(category, [])
    payer = rng.choice(options) if options else None

    # 3. The clinic: the one with the program for it, else any; often one
    #    that takes the patient's insurance when the first choice does not.
    clinic = rng.choices(directory.clinics, weights=directory.clinic_weights)[0]
    if condition.program in directory.program_clinics and rng.random() < 0.85:
        clinic = directory.program_clinics[condition.program]
    accepting = [c for c in directory.clinics if payer is None or payer.pk in directory.in_network[c.pk]]
    rerouted = rng.choice(accepting) if accepting else clinic
    if clinic not in accepting and rng.random() < 0.6:
        clinic = rerouted
    in_network = clinic in accepting

    # 4. The moment it arrived, in the clinic's calendar: faxes and calls
    #    come in business hours, weekend ones mostly logged as Friday's.
    zone = ZoneInfo(clinic.timezone)
    today = now.astimezone(zone).date()
    day = today - timedelta(days=int(days_ago))
    if day.weekday() >= SATURDAY and not weekend_kept:
        day -= timedelta(days=day.weekday() - SATURDAY + 1)
    received_at = datetime.combine(day, time(minute_of_day // 60, minute_of_day % 60), tzinfo=zone)
    while received_at > now - timedelta(minutes=10):
        received_at -= timedelta(days=1)
    channel = _pick(rng, channels)
    source_name = rng.choice(names) if names else ""
    notes = rng.choice(POST_OP_NOTES if post_op else NOTES) if rng.random() < 0.15 else ""
    billed_per_visit = Decimal(f"{rng.uniform(150, 180):.2f}")
    collected_per_visit = Decimal(f"{rng.uniform(100, 110):.2f}")

    # 5. Its fate, then the part of it that has happened by now.
    fast = post_op or priority == Priority.URGENT
    if standing is None:
        steps, visit_times, appointment_at = _timeline(
            rng, received_at, zone, condition, fast=fast, in_network=in_network
        )
    else:
        received_at, steps, visit_times, appointment_at = _standing_timeline(rng, standing, now, zone)
    # 6. The calls, texts and letters it took to reach the patient (or not).
    attempts = [
        attempt for attempt in _attempts(rng, received_at, steps, zone, standing, now) if attempt[2] <= now
    ]
    steps = [step for step in steps if step[1] <= now]
    visits = sum(1 for when in visit_times if when <= now)
    booked = any(status == Status.SCHEDULED for status, _, _ in steps)
    return _Plan(
        fields={
            "clinic": clinic,
            "source_type": source_type,
            "physician": physician,
            "source_name": source_name,
            "patient_first_name": first_name,
            "patient_last_name": last_name,
            "patient_birth_date": birth_date,
            "patient_phone": phone,
            "patient_email": email,
            "received_at": received_at,
            "channel": channel,
            "diagnosis_codes": codes,
            "body_region": condition.region,
            "payer": payer,
            "priority": priority,
            "notes": notes,
            # The therapist is assigned once the evaluation is booked.
            "therapist": directory.therapist if booked else None,
        },
        steps=steps,
        visits=visits,
        billed_per_visit=billed_per_visit,
        collected_per_visit=collected_per_visit,
        standing=standing,
        appointment_at=appointment_at if booked else None,
        attempts=attempts,
    )


def _standing_timeline(
    rng: random.Random, standing: Standing, now: datetime, zone: ZoneInfo
) -> tuple[datetime, list[tuple[str, datetime, str]], list[datetime], datetime | None]:
    """A standing's receipt, steps, visits and first appointment: all before today but an on-time receipt.

    The appointment is the evaluation, the missed day, or a business day in the coming week when it is
    still ahead.

    The receipt is in the morning and each later step in the afternoon, an
    hour apart, so steps on the same day keep their order.
    """
    today = now.astimezone(zone).date()

    def on(count: int, hour: int) -> datetime:
        return datetime.combine(business_day(today, count), time(hour, rng.randrange(60)), tzinfo=zone)

    if standing.received == 0:
        received_at = _latest_business_moment(now, zone)
    else:
        received_at = on(standing.received, rng.randint(8, 10))
    steps: list[tuple[str, datetime, str]] = []
    for hour, (status, count) in enumerate(
        [
            (Status.CONTACTED, standing.contacted),
            (Status.SCHEDULED, standing.scheduled),
            (Status.EVALUATED, standing.evaluated),
        ],
        start=12,
    ):
        if count is not None:
            steps.append((status, on(count, hour), ""))
    visits = [steps[-1][1]] if standing.evaluated is not None else []
    if standing.in_care:
        start_of_today = datetime.combine(today, time.min, tzinfo=zone)
        while len(visits) < MAX_VISITS:
            following = _business(visits[-1] + timedelta(days=rng.uniform(2, 5.5)), zone)
            if following >= start_of_today:
                break
            visits.append(following)
        steps.append((Status.IN_CARE, visits[1], ""))
    appointment_at = None
    if standing.evaluated is not None:
        appointment_at = _booked_slot(visits[0])
    elif standing.missed is not None:
        appointment_at = _booked_slot(on(standing.missed, rng.randint(9, 11)))
    elif standing.scheduled is not None:
        appointment_at = _booked_slot(_business(now + timedelta(days=rng.uniform(1, 5)), zone))
    return received_at, steps, visits, appointment_at


def _still_referring(
    directory: _Directory, physician: Physician, around: datetime, now: datetime, slipping_draw: float
) -> bool:
    """False when this physician had gone cold (dormant) or was slipping `around` then."""
    dormant_since = directory.dormant_since.get(physician.pk)
    if dormant_since and around >= dormant_since - timedelta(days=30):
        return False
    recent = around >= now - timedelta(days=SLIPPING_DAYS)
    return not (physician.pk in directory.slipping and recent and slipping_draw < SLIPPING_DROP)


def _timeline(
    rng: random.Random,
    received_at: datetime,
    zone: ZoneInfo,
    condition: Condition,
    *,
    fast: bool,
    in_network: bool,
) -> tuple[list[tuple[str, datetime, str]], list[datetime], datetime | None]:
    """Each step the referral takes after receipt as (status, when, loss reason), its visits, its appointment.

    1. The front desk calls within hours to two days; some patients are never reached.
    2. The evaluation is booked on that call or within days, and happens 3–10 days after receipt:
       that is the first appointment, kept or not.
    3. Visits follow about twice a week until discharge; some patients drop out early.
    """
    losses: dict[tuple[str, str], float] = dict(LOSSES.items())
    if not in_network:
        losses[(Status.CONTACTED, LossReason.INSURANCE)] = OUT_OF_NETWORK_LOSS
    losses[("", "")] = max(0, 100 - sum(losses.values()))
    lost_from, reason = _pick(rng, losses)
    # Hours until the first call: post-op and urgent ones first, most the same
    # day, a few the next day or the one after.
    delay_band = _pick(rng, {0: 55, 1: 30, 2: 15})
    contact_hours = rng.uniform(0.2, 4) if fast else delay_band * 12 + rng.uniform(0.25, 12)
    booked_on_first_call = rng.random() < 0.45
    give_up_days = rng.uniform(5, 14) if reason == LossReason.UNREACHABLE else rng.uniform(0.2, 3)
    schedule_days = rng.uniform(0.5, 2) if fast else rng.uniform(1, 5)
    evaluation_days = rng.uniform(2, 6) if fast else rng.uniform(3, 10)
    planned = min(MAX_VISITS, max(1, round(rng.gammavariate(2.2, condition.visits / 2.2))))
    gaps = [rng.uniform(2, 5.5) for _ in range(planned - 1)]
    dropout_after = rng.randint(1, 3)

    if lost_from == Status.RECEIVED:
        return [(Status.LOST, _business(received_at + timedelta(days=give_up_days), zone), reason)], [], None
    contacted_at = _business(received_at + timedelta(hours=contact_hours), zone)
    steps: list[tuple[str, datetime, str]] = []
    if booked_on_first_call and lost_from != Status.CONTACTED:
        scheduled_at = contacted_at
    else:
        steps.append((Status.CONTACTED, contacted_at, ""))
        if lost_from == Status.CONTACTED:
            steps.append((Status.LOST, _business(contacted_at + timedelta(days=give_up_days), zone), reason))
            return steps, [], None
        scheduled_at = _business(
            max(received_at + timedelta(days=schedule_days), contacted_at + timedelta(hours=2)), zone
        )
    steps.append((Status.SCHEDULED, scheduled_at, ""))
    evaluated_at = _business(
        max(received_at + timedelta(days=evaluation_days), scheduled_at + timedelta(days=1)), zone
    )
    if lost_from == Status.SCHEDULED:
        steps.append((Status.LOST, evaluated_at, reason))
        return steps, [], _booked_slot(evaluated_at)
    steps.append((Status.EVALUATED, evaluated_at, ""))
    visits = [evaluated_at]
    for gap in gaps:
        visits.append(_business(visits[-1] + timedelta(days=gap), zone))
    if lost_from == Status.IN_CARE:
        visits = visits[: min(dropout_after, planned)]
        if len(visits) > 1:
            steps.append((Status.IN_CARE, visits[1], ""))
        # No-shows for a week or so, then says they are done.
        steps.append((Status.LOST, _business(visits[-1] + timedelta(days=7 + give_up_days), zone), reason))
        return steps, visits, _booked_slot(evaluated_at)
    if len(visits) > 1:
        steps.append((Status.IN_CARE, visits[1], ""))
    steps.append((Status.DISCHARGED, visits[-1] + timedelta(minutes=45), ""))
    return steps, visits, _booked_slot(evaluated_at)


# Notes the desk leaves on an attempt: about the attempt, never the patient's details.
ATTEMPT_NOTES = [
    "Asked to call back after 3 pm.",
    "Voicemail greeting matched; left callback number.",
    "Mailbox not set up.",
    "Sent the new-patient text with our number.",
    "Left the scheduling line's number.",
]
# How the desk tries again when a call goes unanswered: calls first, then a text, then a letter.
UNANSWERED = [
    (ContactMethod.CALL, ContactOutcome.NO_ANSWER),
    (ContactMethod.CALL, ContactOutcome.LEFT_MESSAGE),
    (ContactMethod.TEXT, ContactOutcome.SENT),
    (ContactMethod.CALL, ContactOutcome.LEFT_MESSAGE),
    (ContactMethod.LETTER, ContactOutcome.SENT),
]


def _attempts(
    rng: random.Random,
    received_at: datetime,
    steps: list[tuple[str, datetime, str]],
    zone: ZoneInfo,
    standing: Standing | None,
    now: datetime,
) -> list[tuple[str, str, datetime, str]]:
    """The desk's tries at reaching the patient around the referral's fate, as (method, outcome, when, note).

    1. A patient reached: the call that reached them is when the referral was
       contacted, after a try or two when that took a day or more.
    2. A patient never reached (lost as unreachable): tries spread over the
       days before the desk gave up, from receipt, or from the call that
       reached them when they stopped answering before booking.
    3. A standing's tries: one a business day from its receipt, all before today.
    """

    def unanswered(start: datetime, end: datetime, count: int) -> list[tuple[str, str, datetime, str]]:
        tries = []
        for n in range(count):
            when = _business(start + (end - start) * (n + 1) / (count + 1), zone)
            method, outcome = UNANSWERED[n % len(UNANSWERED)]
            note = rng.choice(ATTEMPT_NOTES) if rng.random() < 0.2 else ""
            if start < when < end:
                tries.append((str(method), str(outcome), when, note))
        return tries

    if standing is not None and standing.attempts:
        today = now.astimezone(zone).date()
        return [
            (
                str(UNANSWERED[n % len(UNANSWERED)][0]),
                str(UNANSWERED[n % len(UNANSWERED)][1]),
                datetime.combine(business_day(today, standing.received - n), time(11 + n, 15), tzinfo=zone),
                "",
            )
            for n in range(standing.attempts)
        ]
    attempts = []
    reached = next((when for status, when, _ in steps if status == Status.CONTACTED), None)
    if reached is not None:
        waited = reached - received_at
        before = 0 if waited < timedelta(hours=3) else (1 if waited < timedelta(days=1) else 2)
        attempts += unanswered(received_at, reached, before)
        attempts.append((ContactMethod.CALL.value, ContactOutcome.REACHED.value, reached, ""))
    unreachable = (Status.LOST, LossReason.UNREACHABLE)
    gave_up = next((when for status, when, reason in steps if (status, reason) == unreachable), None)
    if gave_up is not None:
        attempts += unanswered(reached or received_at, gave_up, rng.randint(3, 5))
    return attempts


def _save(organization: Organization, directory: _Directory, plans: list[_Plan]) -> None:
    desk, therapist = directory.front_desk, directory.therapist
    today = organization_today(organization)
    records = []
    for plan in plans:
        steps: list[ReferralStep] = []
        status: str = Status.RECEIVED
        reached = {when for _, outcome, when, _ in plan.attempts if outcome == ContactOutcome.REACHED}
        clinic = plan.fields["clinic"]
        for to_status, when, reason in plan.steps:
            clinical = to_status in CLINICAL_STEPS or status in CLINICAL_STEPS
            status = to_status
            if to_status == Status.CONTACTED and when in reached:
                continue  # the call that reached the patient contacts the referral
            appointment = None
            if to_status == Status.SCHEDULED and plan.appointment_at is not None:
                appointment = FirstAppointment(starts_at=plan.appointment_at, clinic=clinic)
            steps.append(
                ReferralStep(
                    to_status=to_status,
                    changed_at=when,
                    changed_by=(therapist or desk) if clinical else desk,
                    loss_reason=reason,
                    appointment=appointment,
                )
            )
        attempts = [
            ContactAttemptRecord(
                fields=ContactAttemptFields(method=method, outcome=outcome, attempted_at=when, note=note),
                attempted_by=desk,
            )
            for method, outcome, when, note in plan.attempts
        ]
        care = None
        if plan.visits:
            care = ReferralCare(
                visits_attended=plan.visits,
                billed_amount=plan.billed_per_visit * plan.visits,
                collected_amount=plan.collected_per_visit * plan.visits,
            )
        received_at = plan.fields["received_at"]
        records.append(
            ReferralRecord(
                intake=ReferralIntake(**plan.fields),
                created_by=desk,
                # Logged a few minutes after it arrived.
                logged_at=received_at + timedelta(minutes=5),
                steps=steps,
                attempts=attempts,
                care=care,
                plan=_plan_of_care(plan, today),
            )
        )
    referrals_create_bulk(organization=organization, records=records)


def _plan_of_care(plan: _Plan, today: date) -> PlanOfCareFields | None:
    """A plan of care from the evaluation, most signed within weeks, some still waiting or overdue."""
    evaluated = next((when for status, when, _ in plan.steps if status == Status.EVALUATED), None)
    physician = plan.fields["physician"]
    if evaluated is None or physician is None:
        return None
    received_at = plan.fields["received_at"]
    rng = random.Random(f"plan-{received_at.isoformat()}")  # noqa: S311 (demo data, not secrets)
    starts_on = local_date(evaluated, clinic_zone(plan.fields["clinic"]))
    sent_on = starts_on + timedelta(days=rng.randint(0, 3))
    signed_on = sent_on + timedelta(days=rng.randint(3, 26)) if rng.random() < 0.85 else None
    if plan.standing is not None:
        sent_on = starts_on
        signed_on = sent_on + timedelta(days=rng.randint(3, 26)) if plan.standing.plan_signed else None
    return PlanOfCareFields(
        certifier=physician,
        starts_on=starts_on,
        sent_on=sent_on if sent_on <= today else None,
        signed_on=signed_on if signed_on and signed_on <= today else None,
    )
