"""The demo organizations, staff and directory `manage.py seed_demo` loads."""

from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from clinics.demo import DEMO_PASSWORD
from clinics.models import Clinic, Membership, Organization, Payer, Role, ServiceOffering
from physicians.identifiers import npi_problem
from physicians.models import Affiliation, Gatekeeper, Physician, Practice, StageChange


def snapshot():
    return {
        "organizations": sorted(Organization.objects.values_list("slug", "name")),
        "clinics": sorted(Clinic.objects.values_list("organization__slug", "name", "timezone")),
        "memberships": sorted(
            Membership.objects.values_list("organization__slug", "user__username", "role", "is_active")
        ),
        "payers": sorted(Payer.objects.values_list("organization__slug", "name")),
        "offerings": sorted(ServiceOffering.objects.values_list("clinic__name", "name")),
        "practices": sorted(Practice.objects.values_list("organization__slug", "name", "address_line1")),
        "physicians": sorted(
            Physician.objects.values_list("organization__slug", "npi", "last_name", "stage", "tier")
        ),
        "affiliations": Affiliation.objects.count(),
        "gatekeepers": Gatekeeper.objects.count(),
        "stage_changes": StageChange.objects.count(),
    }


def test_seed_demo_is_deterministic_and_idempotent(demo):
    first = snapshot()
    call_command("seed_demo", stdout=StringIO())

    assert snapshot() == first
    assert get_user_model().objects.count() == 5
    summit_clinics = [name for slug, name, _ in first["clinics"] if slug == "summit"]
    assert len(summit_clinics) == 3
    assert {tz for slug, _, tz in first["clinics"] if slug == "summit"} == {"America/Denver"}
    assert ("summit", "summit.frontdesk", Role.FRONT_DESK, True) in first["memberships"]
    assert ("harbor", "harbor.admin", Role.ADMIN, True) in first["memberships"]


def test_demo_directory_is_realistic(demo):
    for slug in ("summit", "harbor"):
        physicians = Physician.objects.filter(organization__slug=slug)
        assert 100 <= physicians.count() <= 140
        assert 35 <= Practice.objects.filter(organization__slug=slug).count() <= 45
        assert all(npi_problem(npi) is None for npi in physicians.values_list("npi", flat=True))
        assert physicians.values("stage").distinct().count() == 5
        assert physicians.values("taxonomy_code").distinct().count() >= 15
    assert Gatekeeper.objects.exists()
    assert Affiliation.objects.filter(is_primary=True).count() == Physician.objects.count()


def test_demo_users_sign_in_with_the_demo_password(client, demo):
    response = client.post(
        reverse("login"), {"username": "summit.frontdesk", "password": DEMO_PASSWORD}, follow=True
    )

    assert response.status_code == 200
    assert response.context["request"].organization.slug == "summit"
    assert b"Summit Physical Therapy" in response.content


def test_a_database_seeded_before_namespaced_usernames_has_its_demo_accounts_renamed(demo):
    User = get_user_model()
    User.objects.filter(username="summit.frontdesk").update(username="frontdesk")
    User.objects.filter(username="harbor.admin").update(username="harbor-admin")

    call_command("seed_demo", stdout=StringIO())

    assert User.objects.count() == 5
    assert set(User.objects.values_list("username", flat=True)) == {
        "summit.frontdesk",
        "summit.therapist",
        "summit.liaison",
        "summit.admin",
        "harbor.admin",
    }
