"""Demo referral sources for `manage.py seed_demo`: practices, physicians, gatekeepers.

Generated from a fixed random seed per organization, so every run produces
the same directory; rows are matched by NPI and address, so a rerun adds
nothing.
"""

import random
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from clinics.models import Organization, Payer, Population

from .identifiers import npi_check_digit
from .models import (
    Affiliation,
    Gatekeeper,
    GatekeeperRole,
    Physician,
    Practice,
    Stage,
    StageChange,
    Tier,
    UpdateRhythm,
)

# archetype: (practice name suffix, weighted taxonomy codes, populations)
ARCHETYPES = [
    (
        "Orthopedics",
        ["207X00000X"] * 3 + ["207XX0005X", "207XS0114X", "207XS0106X", "207XX0004X", "363A00000X"],
        ["orthopedic", "post-surgical", "sports"],
    ),
    (
        "Sports Medicine",
        ["207QS0010X", "2081S0010X", "207XX0005X", "207RS0010X", "363A00000X"],
        ["sports", "orthopedic"],
    ),
    (
        "Spine Center",
        ["207XS0117X", "207T00000X", "208VP0000X", "2081P2900X"],
        ["orthopedic", "chronic-pain", "post-surgical"],
    ),
    (
        "Family Medicine",
        ["207Q00000X"] * 3 + ["363L00000X", "363LF0000X", "208D00000X"],
        ["geriatric", "orthopedic", "pediatric"],
    ),
    ("Internal Medicine", ["207R00000X"] * 3 + ["363L00000X", "207RR0500X"], ["geriatric", "chronic-pain"]),
    ("Women's Health", ["207V00000X", "207VG0400X", "363L00000X"], ["womens-health"]),
    (
        "Neurology Associates",
        ["2084N0400X", "2084N0400X", "363L00000X"],
        ["neurologic", "vestibular", "geriatric"],
    ),
    (
        "Physical Medicine & Rehab",
        ["208100000X", "2081P2900X", "208100000X"],
        ["neurologic", "workers-comp", "chronic-pain"],
    ),
    ("Foot & Ankle", ["213E00000X", "213E00000X", "207XX0004X"], ["orthopedic", "sports", "geriatric"]),
    ("Occupational Health", ["207Q00000X", "363A00000X", "111N00000X"], ["workers-comp", "orthopedic"]),
]

# Real area codes of each demo state, so every demo number is one a phone could dial.
AREA_CODES = {"CO": ("303", "720", "719"), "MA": ("617", "857", "781")}


def _area_code(rng: random.Random, state: str) -> str:
    """One of the state's area codes, from one draw of the range the demo has always drawn from.

    The same draw keeps every later random choice of the demo as it was.
    """
    codes = AREA_CODES[state]
    return codes[rng.randrange(200, 999) % len(codes)]


PLACES = {
    "summit": (
        "CO",
        "Denver",
        "80",
        [
            "Front Range",
            "Cherry Creek",
            "Highlands",
            "Washington Park",
            "Lakewood",
            "Aurora",
            "Englewood",
            "Littleton",
            "Golden",
            "Wheat Ridge",
            "Arvada",
            "Centennial",
        ],
        [
            "Colfax Ave",
            "Speer Blvd",
            "Colorado Blvd",
            "Alameda Ave",
            "Evans Ave",
            "Wadsworth Blvd",
            "Broadway",
            "Hampden Ave",
            "University Blvd",
            "Federal Blvd",
        ],
    ),
    "harbor": (
        "MA",
        "Boston",
        "02",
        [
            "Back Bay",
            "Seaport",
            "Beacon Hill",
            "Charlestown",
            "Brookline",
            "Cambridge",
            "Somerville",
            "Newton",
            "Quincy",
            "Dorchester",
            "Jamaica Plain",
            "Waltham",
        ],
        [
            "Boylston St",
            "Commonwealth Ave",
            "Tremont St",
            "Cambridge St",
            "Beacon St",
            "Washington St",
            "Huntington Ave",
            "Massachusetts Ave",
            "Summer St",
            "Atlantic Ave",
        ],
    ),
}
FIRST_NAMES = [
    "James",
    "Maria",
    "Robert",
    "Priya",
    "Michael",
    "Aisha",
    "David",
    "Elena",
    "Daniel",
    "Grace",
    "Samuel",
    "Hannah",
    "Kevin",
    "Olivia",
    "Carlos",
    "Mei",
    "Andrew",
    "Fatima",
    "Thomas",
    "Sofia",
    "Jonathan",
    "Leah",
    "Marcus",
    "Nora",
    "Ethan",
    "Chloe",
    "Rafael",
    "Ingrid",
    "Omar",
    "Julia",
]
LAST_NAMES = [
    "Anderson",
    "Bennett",
    "Chen",
    "Dawson",
    "Espinoza",
    "Fischer",
    "Gupta",
    "Harrington",
    "Ibrahim",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Morales",
    "Nakamura",
    "O'Connell",
    "Patel",
    "Quinlan",
    "Reyes",
    "Sato",
    "Thornton",
    "Underwood",
    "Valdez",
    "Whitaker",
    "Xu",
    "Yamamoto",
    "Zimmerman",
    "Brennan",
    "Castillo",
    "Delgado",
    "Okafor",
    "Novak",
    "Haddad",
    "Larsen",
    "Mbeki",
    "Ortega",
    "Petrov",
]
CREDENTIALS = {"363L": ["NP", "FNP-C"], "363A": ["PA-C"], "213E": ["DPM"], "111N": ["DC"]}
STAGES = (
    [Stage.PROSPECT] * 35
    + [Stage.FIRST_IMPRESSION] * 15
    + [Stage.BUILDING_TRUST] * 20
    + [Stage.MAINTAINING] * 22
    + [Stage.DORMANT] * 8
)
STAGE_PATH = [Stage.PROSPECT, Stage.FIRST_IMPRESSION, Stage.BUILDING_TRUST, Stage.MAINTAINING]
WHAT_MATTERS = [
    "Hear from us within a day of the evaluation; keep notes short.",
    "Wants patients seen within 48 hours after surgery.",
    "Cares about objective outcome scores at discharge.",
    "Prefers we follow their post-op protocols to the letter.",
    "Patients should not wait more than a week for a first visit.",
    "",
    "",
]
GATEKEEPER_FIRST = ["Tina", "Rosa", "Megan", "Luis", "Karen", "Jasmine", "Brian", "Alicia", "Denise", "Paula"]
PRACTICES_PER_ORGANIZATION = 40
PHYSICIANS_PER_ORGANIZATION = 120


# Most physicians want a letter after the evaluation or at discharge; some every note, some a
# monthly summary, a few none.
DEMO_RHYTHMS = (
    *[UpdateRhythm.AFTER_EVALUATION] * 8,
    *[UpdateRhythm.AT_DISCHARGE] * 5,
    *[UpdateRhythm.EVERY_PROGRESS_NOTE] * 3,
    *[UpdateRhythm.MONTHLY] * 3,
    UpdateRhythm.NO_UPDATES,
)


def demo_npi(rng: random.Random) -> str:
    first_nine = str(rng.choice([1, 2])) + f"{rng.randrange(10**8):08d}"
    return first_nine + str(npi_check_digit(first_nine))


def _credential(rng: random.Random, taxonomy: str) -> str:
    return rng.choice(CREDENTIALS.get(taxonomy[:4], ["MD", "MD", "MD", "DO"]))


@transaction.atomic
def seed_organization(organization: Organization) -> None:
    rng = random.Random(f"rapport-demo-{organization.slug}")  # noqa: S311 (demo data, not secrets)
    state, city, zip_prefix, places, streets = PLACES.get(organization.slug, PLACES["summit"])
    payers = list(Payer.objects.for_organization(organization).order_by("name"))
    populations = {p.code: p for p in Population.objects.all()}
    owners = list(
        get_user_model()
        .objects.filter(memberships__organization=organization, memberships__role__in=["liaison", "admin"])
        .order_by("username")
    )
    now = timezone.now()

    # Every random draw happens whether or not the row already exists, so a
    # rerun walks the same sequence and finds the same rows.
    practices = []
    for index in range(PRACTICES_PER_ORGANIZATION):
        suffix, taxonomies, population_codes = ARCHETYPES[index % len(ARCHETYPES)]
        place = places[index % len(places)]
        spec = {
            "address_line1": f"{100 + rng.randrange(9000)} {rng.choice(streets)}",
            "name": f"{place} {suffix}" + (f" {index // len(places) + 1}" if index >= len(places) else ""),
            "address_line2": rng.choice(["", "", f"Suite {rng.randrange(100, 500)}"]),
            "city": city if rng.random() < 0.5 else place,
            "state": state,
            "postal_code": f"{zip_prefix}{rng.randrange(100, 300):03d}",
            "phone": f"({_area_code(rng, state)}) 555-{rng.randrange(100, 200):04d}",
            "fax": f"({_area_code(rng, state)}) 555-{rng.randrange(200, 300):04d}",
        }
        accepted = rng.sample(payers, k=min(len(payers), rng.randrange(3, 11)))
        gatekeepers = [
            {
                "first_name": rng.choice(GATEKEEPER_FIRST),
                "last_name": rng.choice(LAST_NAMES),
                "role": rng.choice(GatekeeperRole.values[:4]),
                "extension": str(rng.randrange(100, 300)),
                "preferred_contact": rng.choice(["phone", "email", "fax"]),
            }
            for _ in range(rng.choice([0, 1, 1, 2]))
        ]
        practice, created = Practice.objects.get_or_create(
            organization=organization, name=spec.pop("name"), defaults=spec
        )
        if created:
            practice.populations.set([populations[code] for code in population_codes if code in populations])
            practice.payers.set(accepted)
            for gatekeeper in gatekeepers:
                Gatekeeper.objects.create(
                    organization=organization,
                    practice=practice,
                    phone=practice.phone,
                    email=f"referrals{index}@example.com",
                    **gatekeeper,
                )
        practices.append((practice, taxonomies))

    affiliations, stage_changes = [], []
    for index in range(PHYSICIANS_PER_ORGANIZATION):
        practice, taxonomies = practices[index % len(practices)]
        taxonomy = rng.choice(taxonomies)
        stage = rng.choice(STAGES)
        fields: dict[str, Any] = {
            "first_name": rng.choice(FIRST_NAMES),
            "last_name": rng.choice(LAST_NAMES),
            "credential": _credential(rng, taxonomy),
            "taxonomy_code": taxonomy,
            "stage": stage,
            "tier": {Stage.MAINTAINING: rng.choice("AAB"), Stage.BUILDING_TRUST: rng.choice("BBC")}.get(
                stage, Tier.C
            ),
            "what_matters": rng.choice(WHAT_MATTERS) if stage != Stage.PROSPECT else "",
            "owner": rng.choice(owners) if owners and stage != Stage.PROSPECT else None,
            "update_channel": rng.choice(["fax", "fax", "email", "portal"]),
        }
        npi = demo_npi(rng)
        # Most physicians have an address for updates and announcements; it is
        # derived, not drawn, so the draws of every later row stay the same.
        if int(npi) % 10 < 7:
            name = f"{slugify(fields['first_name'])}.{slugify(fields['last_name'])}"
            fields["email"] = f"{name}@{slugify(practice.name)}.example.org"
        # How often they want to hear about their patients, derived the same way.
        fields["update_rhythm"] = DEMO_RHYTHMS[int(npi) // 10 % len(DEMO_RHYTHMS)]
        path = (
            STAGE_PATH[: STAGE_PATH.index(stage) + 1]
            if stage in STAGE_PATH
            else [*STAGE_PATH[:3], Stage.DORMANT]
        )
        days_ago = rng.randrange(400, 540)
        gaps = [rng.randrange(30, 120) for _ in path]
        physician, created = Physician.objects.get_or_create(
            organization=organization, npi=npi, defaults=fields
        )
        if not created:
            continue
        affiliations.append(
            Affiliation(organization=organization, physician=physician, practice=practice, is_primary=True)
        )
        when = now - timedelta(days=days_ago)
        previous = ""
        for step, gap in zip(path, gaps, strict=True):
            stage_changes.append(
                StageChange(
                    organization=organization,
                    physician=physician,
                    from_stage=previous,
                    to_stage=step,
                    changed_by=fields["owner"],
                    changed_at=when,
                    note="Added to the directory" if not previous else "",
                )
            )
            previous = step
            when += timedelta(days=gap)
    # Written together: one insert per physician's history made seeding slow,
    # and the demo is seeded once per pinned day in tests/test_any_day.py.
    Affiliation.objects.bulk_create(affiliations)
    StageChange.objects.bulk_create(stage_changes)


def seed(stdout=None) -> None:
    for organization in Organization.objects.filter(slug__in=PLACES):
        seed_organization(organization)
        if stdout is not None:
            count = Physician.objects.for_organization(organization).count()
            stdout.write(f"{organization.name}: {count} physicians")
