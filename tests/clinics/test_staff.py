import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.urls import reverse

from clinics.models import Membership, Role

from ..factories import MembershipFactory

User = get_user_model()

NEW_STAFF = {
    "first_name": "Rosa",
    "last_name": "Quinn",
    "email": "rosa@example.com",
    "username": "rquinn",  # the short name: they sign in as summit.rquinn
    "role": Role.LIAISON,
    "password": "a-long-and-unusual-passphrase",
}


def test_admin_adds_a_staff_member_who_can_sign_in(admin_client, summit, summit_clinic, client):
    response = admin_client.post(
        reverse("clinics:staff_create"), {**NEW_STAFF, "home_clinic": summit_clinic.pk}
    )

    assert response.status_code == 302
    membership = Membership.objects.get(user__username="summit.rquinn")
    assert (membership.organization, membership.role, membership.home_clinic) == (
        summit,
        Role.LIAISON,
        summit_clinic,
    )
    admin_client.logout()
    login = client.post(reverse("login"), {"username": "summit.rquinn", "password": NEW_STAFF["password"]})
    assert login.status_code == 302


@pytest.mark.parametrize(
    ("typed", "username"), [("summit.rquinn", "summit.rquinn"), ("Summit.RQuinn", "summit.RQuinn")]
)
def test_a_username_typed_as_the_example_shows_it_gets_the_prefix_once(admin_client, summit, typed, username):
    """The help text shows "summit.rquinn": typing all of it must not make summit.summit.rquinn."""
    response = admin_client.post(reverse("clinics:staff_create"), {**NEW_STAFF, "username": typed})

    assert response.status_code == 302
    membership = Membership.objects.get(organization=summit, user__first_name=NEW_STAFF["first_name"])
    assert membership.user.username == username


def test_a_username_of_the_prefix_alone_is_refused(admin_client):
    response = admin_client.post(reverse("clinics:staff_create"), {**NEW_STAFF, "username": "summit."})

    assert response.context["form"].errors["username"] == ["Type the name that follows “summit.”."]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"password": "password"}, "password", "This password is too common."),
        ({"password": "rquinn12"}, "password", "too similar to the username"),
        ({"username": "taken"}, "username", "A user with that username already exists."),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
    ],
)
def test_bad_staff_input_is_explained_and_nothing_is_saved(admin_client, change, field, message):
    MembershipFactory(user__username="summit.taken")
    users_before = User.objects.count()

    response = admin_client.post(reverse("clinics:staff_create"), {**NEW_STAFF, **change})

    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors[field])
    assert User.objects.count() == users_before


@pytest.mark.parametrize(
    "elsewhere",
    [
        {"user__username": "harbor.rquinn"},  # the same name in another organization
        {"user__username": "rquinn"},  # a name from before namespaces, or made in /admin/
        {"user__email": "rosa@example.com"},  # the same address in another organization
    ],
)
def test_adding_staff_says_nothing_about_other_organizations(admin_client, harbor, elsewhere):
    MembershipFactory(organization=harbor, **elsewhere)

    response = admin_client.post(reverse("clinics:staff_create"), NEW_STAFF, follow=True)

    assert response.status_code == 200
    assert "they sign in as summit.rquinn" in response.content.decode()
    assert Membership.objects.filter(user__username="summit.rquinn", organization__slug="summit").exists()


def test_home_clinic_of_another_organization_is_refused(admin_client, harbor_clinic):
    response = admin_client.post(
        reverse("clinics:staff_create"), {**NEW_STAFF, "home_clinic": harbor_clinic.pk}
    )

    assert "home_clinic" in response.context["form"].errors
    assert not User.objects.filter(username="summit.rquinn").exists()


def test_admin_changes_a_role(admin_client, summit_front_desk):
    response = admin_client.post(
        reverse("clinics:staff_edit", args=[summit_front_desk.pk]), {"role": Role.THERAPIST}
    )

    assert response.status_code == 302
    summit_front_desk.refresh_from_db()
    assert summit_front_desk.role == Role.THERAPIST


def test_the_last_admin_cannot_be_demoted_or_deactivated(admin_client, summit_admin, member_factory, summit):
    response = admin_client.post(
        reverse("clinics:staff_edit", args=[summit_admin.pk]), {"role": Role.THERAPIST}
    )
    assert "You cannot remove your own admin role." in response.content.decode()

    other_admin = member_factory(summit, Role.ADMIN)
    admin_client.post(reverse("clinics:staff_deactivate", args=[other_admin.pk]))
    other_admin.refresh_from_db()
    assert not other_admin.is_active

    response = admin_client.post(reverse("clinics:staff_deactivate", args=[summit_admin.pk]), follow=True)
    assert "You cannot deactivate yourself." in response.content.decode()
    summit_admin.refresh_from_db()
    assert summit_admin.is_active


def test_deactivation_ends_the_sessions_of_that_person(admin_client, summit_front_desk, client_factory):
    colleague = client_factory()
    colleague.force_login(summit_front_desk.user)
    assert colleague.get(reverse("home")).status_code == 200
    session_key = colleague.session.session_key

    admin_client.post(reverse("clinics:staff_deactivate", args=[summit_front_desk.pk]))
    response = colleague.get(reverse("home"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert not Session.objects.filter(session_key=session_key).exists()

    admin_client.post(reverse("clinics:staff_reactivate", args=[summit_front_desk.pk]))
    colleague.force_login(summit_front_desk.user)
    assert colleague.get(reverse("home")).status_code == 200


def test_the_staff_list_runs_constant_queries(
    admin_client, summit, member_factory, django_assert_max_num_queries
):
    for _ in range(40):
        member_factory(summit)

    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse("clinics:staff_list"))

    assert response.status_code == 200
    assert len(response.context["memberships"]) == 41


def test_deactivation_asks_first_and_changes_nothing_until_confirmed(admin_client, summit_front_desk):
    url = reverse("clinics:staff_deactivate", args=[summit_front_desk.pk])
    staff_list = admin_client.get(reverse("clinics:staff_list")).content.decode()
    assert f'href="{url}"' in staff_list

    asked = admin_client.get(url)

    assert asked.status_code == 200
    assert f"Deactivate {summit_front_desk.user}?" in asked.content.decode()
    summit_front_desk.refresh_from_db()
    assert summit_front_desk.is_active

    admin_client.post(url)
    summit_front_desk.refresh_from_db()
    assert not summit_front_desk.is_active
    again = admin_client.get(url, follow=True)
    assert "is already deactivated" in again.content.decode()
