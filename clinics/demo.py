"""Demo organizations, clinics and staff for `manage.py seed_demo`.

Every demo user's password is DEMO_PASSWORD: demo data is for trying Rapport
out, never for a production database.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from .models import Clinic, Membership, Organization, Role

DEMO_PASSWORD = "rapport-demo"  # noqa: S105 (published demo credential)


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    role: str
    organization_slug: str
    home_clinic: str | None = None


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
    DemoUser("frontdesk", "Fran", "Delgado", Role.FRONT_DESK, "summit", "Summit PT – Downtown"),
    DemoUser("therapist", "Theo", "Park", Role.THERAPIST, "summit", "Summit PT – Downtown"),
    DemoUser("liaison", "Lena", "Okafor", Role.LIAISON, "summit", "Summit PT – Cherry Creek"),
    DemoUser("admin", "Avery", "Nguyen", Role.ADMIN, "summit", None),
    DemoUser("harbor-admin", "Hugo", "Marsh", Role.ADMIN, "harbor", None),
]


@transaction.atomic
def seed(stdout=None) -> None:
    organizations = {}
    for slug, (name, clinics, timezone) in ORGANIZATIONS.items():
        organization, _ = Organization.objects.update_or_create(slug=slug, defaults={"name": name})
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
        user, _ = user_model.objects.update_or_create(
            username=demo.username,
            defaults={
                "first_name": demo.first_name,
                "last_name": demo.last_name,
                "email": f"{demo.username}@example.com",
                "is_active": True,
            },
        )
        if not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        organization = organizations[demo.organization_slug]
        home_clinic = (
            Clinic.objects.get(organization=organization, name=demo.home_clinic) if demo.home_clinic else None
        )
        Membership.objects.update_or_create(
            organization=organization,
            user=user,
            defaults={"role": demo.role, "home_clinic": home_clinic, "is_active": True},
        )
    if stdout is not None:
        stdout.write(f"Organizations: {', '.join(o.name for o in organizations.values())}")
