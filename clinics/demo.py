"""Demo organizations, clinics and staff for `manage.py seed_demo`.

Every demo user's password is DEMO_PASSWORD: demo data is for trying Rapport
out, never for a production database.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from .models import (
    Clinic,
    Membership,
    Organization,
    Payer,
    PayerCategory,
    Population,
    Role,
    ServiceOffering,
)
from .services import staff_username

DEMO_PASSWORD = "rapport-demo"  # noqa: S105 (published demo credential)


@dataclass(frozen=True)
class DemoUser:
    name: str
    first_name: str
    last_name: str
    role: str
    organization_slug: str
    home_clinic: str | None = None
    # The sign-in name before staff usernames carried their organization's
    # slug: a database seeded then has its demo accounts renamed, not doubled.
    legacy_username: str = ""


ORGANIZATIONS = {
    "summit": (
        "Summit Physical Therapy",
        [
            ("Summit PT – Downtown", "1550 Larimer St", "Denver", "CO", "80202", "(303) 555-0141"),
            ("Summit PT – Cherry Creek", "250 Columbine St", "Denver", "CO", "80206", "(303) 555-0187"),
            ("Summit PT – Lakewood", "7200 W Alameda Ave", "Lakewood", "CO", "80226", "(303) 555-0163"),
        ],
        "America/Denver",
    ),
    "harbor": (
        "Harbor Rehab",
        [("Harbor Rehab – Waterfront", "40 Seaport Blvd", "Boston", "MA", "02210", "(617) 555-0119")],
        "America/New_York",
    ),
}

USERS = [
    DemoUser("frontdesk", "Fran", "Delgado", Role.FRONT_DESK, "summit", "Summit PT – Downtown", "frontdesk"),
    DemoUser("therapist", "Theo", "Park", Role.THERAPIST, "summit", "Summit PT – Downtown", "therapist"),
    DemoUser("liaison", "Lena", "Okafor", Role.LIAISON, "summit", "Summit PT – Cherry Creek", "liaison"),
    DemoUser("admin", "Avery", "Nguyen", Role.ADMIN, "summit", None, "admin"),
    DemoUser("admin", "Hugo", "Marsh", Role.ADMIN, "harbor", None, "harbor-admin"),
]


PAYERS = [
    ("Medicare Part B", PayerCategory.MEDICARE),
    ("Humana Medicare Advantage", PayerCategory.MEDICARE_ADVANTAGE),
    ("UnitedHealthcare Medicare Advantage", PayerCategory.MEDICARE_ADVANTAGE),
    ("Medicaid", PayerCategory.MEDICAID),
    ("Anthem Blue Cross Blue Shield", PayerCategory.COMMERCIAL),
    ("Aetna", PayerCategory.COMMERCIAL),
    ("Cigna", PayerCategory.COMMERCIAL),
    ("UnitedHealthcare", PayerCategory.COMMERCIAL),
    ("Kaiser Permanente", PayerCategory.COMMERCIAL),
    ("Workers' compensation carriers", PayerCategory.WORKERS_COMP),
    ("Auto / PIP claims", PayerCategory.AUTO_PIP),
    ("VA Community Care", PayerCategory.VA_TRICARE),
    ("TRICARE", PayerCategory.VA_TRICARE),
    ("Self-pay", PayerCategory.SELF_PAY),
]
# Payers each clinic is in network with: clinics by position in name order, payers by position in PAYERS.
CLINIC_PAYERS = {0: range(0, 14), 1: [0, 1, 4, 5, 6, 7, 13], 2: [0, 1, 2, 3, 4, 7, 9, 10, 11, 13]}

# (clinic position in name order, name, populations)
OFFERINGS = [
    (0, "Sports rehab", ["sports", "orthopedic"]),
    (0, "Post-op orthopedics", ["post-surgical", "orthopedic"]),
    (0, "Vestibular rehab", ["vestibular", "neurologic", "geriatric"]),
    (1, "Pelvic health", ["womens-health"]),
    (1, "Hand therapy", ["orthopedic", "post-surgical"]),
    (1, "Running clinic", ["sports"]),
    (2, "Aquatic therapy", ["geriatric", "chronic-pain"]),
    (2, "Work conditioning", ["workers-comp", "orthopedic"]),
    (2, "Neuro rehab", ["neurologic", "geriatric"]),
]


def _seed_payers_and_services(organization: Organization) -> None:
    payers = [
        Payer.objects.update_or_create(organization=organization, name=name, defaults={"category": category})[
            0
        ]
        for name, category in PAYERS
    ]
    clinics = list(Clinic.objects.for_organization(organization).order_by("name"))
    populations = {population.code: population for population in Population.objects.all()}
    for position, clinic in enumerate(clinics):
        clinic.payers.set([payers[i] for i in CLINIC_PAYERS.get(position, range(len(payers)))])
    for position, name, codes in OFFERINGS:
        if position >= len(clinics):
            continue
        offering, _ = ServiceOffering.objects.update_or_create(
            organization=organization, clinic=clinics[position], name=name
        )
        offering.populations.set([populations[code] for code in codes])


@transaction.atomic
def seed(stdout=None) -> None:
    organizations = {}
    for slug, (name, clinics, timezone) in ORGANIZATIONS.items():
        organization, _ = Organization.objects.update_or_create(
            slug=slug, defaults={"name": name, "timezone": timezone}
        )
        organizations[slug] = organization
        for clinic_name, street, city, state, postal_code, phone in clinics:
            Clinic.objects.update_or_create(
                organization=organization,
                name=clinic_name,
                defaults={
                    "address_line1": street,
                    "city": city,
                    "state": state,
                    "postal_code": postal_code,
                    "phone": phone,
                    "timezone": timezone,
                },
            )

    user_model = get_user_model()
    for demo in USERS:
        organization = organizations[demo.organization_slug]
        username = staff_username(organization=organization, name=demo.name)
        if not user_model.objects.filter(username=username).exists():
            user_model.objects.filter(
                username=demo.legacy_username, memberships__organization=organization
            ).update(username=username)
        user, _ = user_model.objects.update_or_create(
            username=username,
            defaults={
                "first_name": demo.first_name,
                "last_name": demo.last_name,
                "email": f"{demo.legacy_username}@example.com",
                "is_active": True,
            },
        )
        if not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        home_clinic = (
            Clinic.objects.get(organization=organization, name=demo.home_clinic) if demo.home_clinic else None
        )
        Membership.objects.update_or_create(
            organization=organization,
            user=user,
            defaults={"role": demo.role, "home_clinic": home_clinic, "is_active": True},
        )
    for organization in organizations.values():
        _seed_payers_and_services(organization)
    if stdout is not None:
        stdout.write(f"Organizations: {', '.join(o.name for o in organizations.values())}")
