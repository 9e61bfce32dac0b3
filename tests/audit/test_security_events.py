"""Sign-ins, failed sign-ins, lockouts, role and settings changes, and signed links are events too."""

import pytest
from django.urls import reverse

from audit.chain import chain_verify
from audit.models import AccessEvent, AccessEventReferral, AccessKind
from clinics import services as clinic_services
from clinics.models import Role
from letters.services import letter_link

from ..letters.factories import LetterFactory


def kinds(organization):
    return list(
        AccessEvent.objects.filter(organization=organization).order_by("seq").values_list("kind", flat=True)
    )


def sign_in(client, username, password):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR="203.0.113.5"
    )


@pytest.fixture
def person(summit_admin):
    summit_admin.user.set_password("a long passphrase 7")
    summit_admin.user.save()
    return summit_admin


def test_a_sign_in_is_recorded_with_its_address(client, summit, person):
    assert sign_in(client, person.user.username, "a long passphrase 7").status_code == 302

    event = AccessEvent.objects.get(organization=summit)
    assert (event.kind, event.user, event.ip_address) == (AccessKind.SIGN_IN, person.user, "203.0.113.5")


def test_a_failed_sign_in_then_the_lockout_are_recorded(client, summit, person, settings):
    settings.AXES_FAILURE_LIMIT = 2
    sign_in(client, person.user.username, "wrong")
    sign_in(client, person.user.username, "wrong again")

    # Axes locks out during the second attempt, before Django reports it failed.
    assert kinds(summit) == [AccessKind.SIGN_IN_FAILED, AccessKind.LOCKOUT, AccessKind.SIGN_IN_FAILED]
    assert chain_verify(organization=summit).intact


def test_an_unknown_username_belongs_to_no_organization(client, summit, person):
    sign_in(client, "nobody-here", "wrong")

    assert not AccessEvent.objects.exists()


def test_a_role_change_is_recorded_with_who_made_it(admin_client, summit, summit_admin, member_factory):
    colleague = member_factory(summit, Role.LIAISON)
    before = AccessEvent.objects.count()

    admin_client.post(
        reverse("clinics:staff_deactivate", args=[colleague.pk]),
    )
    clinic_services.membership_update(
        membership=colleague, acting_user=summit_admin.user, role=Role.FRONT_DESK, home_clinic=None
    )

    events = list(AccessEvent.objects.order_by("seq")[before:])
    assert [(event.kind, event.object_id, event.detail) for event in events] == [
        (AccessKind.ROLE_CHANGE, colleague.pk, "Liaison, deactivated"),
        (AccessKind.ROLE_CHANGE, colleague.pk, "Front desk, deactivated"),
    ]
    # The first through the page names who did it; the second ran outside any request.
    assert events[0].user == summit_admin.user
    assert events[0].path_name == "clinics:staff_deactivate"
    assert events[1].user is None


def test_a_settings_change_is_recorded_inside_the_save(summit):
    """The settings page's service calls the hook in its transaction (tests/clinics cover the page)."""
    before = AccessEvent.objects.count()

    clinic_services.settings_saved(organization=summit, keys=["organization", "audit"])

    event = AccessEvent.objects.order_by("seq")[before:].get()
    assert (event.kind, event.detail) == (AccessKind.SETTINGS_CHANGE, "sections saved: organization, audit")


def test_a_signed_letter_link_records_the_opening_without_a_user(client, summit, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    letter = LetterFactory(organization=summit, access_token="a-random-token")
    path = letter_link(letter).split("://", 1)[1].split("/", 1)[1]

    response = client.get(f"/{path}", REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 200
    event = AccessEvent.objects.get(organization=summit)
    assert (event.user, event.path_name, event.ip_address) == (None, "letters:read", "198.51.100.7")
    assert list(AccessEventReferral.objects.filter(event=event).values_list("referral_id", flat=True)) == [
        letter.referral_id
    ]


def test_saving_the_settings_page_is_recorded_with_who_saved_it(admin_client, summit, summit_admin):
    from ..clinics.test_organization_settings import VALID

    admin_client.post(reverse("clinics:organization_settings"), VALID)
    admin_client.post(reverse("clinics:organization_settings"), VALID)

    # The second save changed nothing, so it saved and recorded nothing.
    event = AccessEvent.objects.get(kind=AccessKind.SETTINGS_CHANGE)
    assert (event.user, event.path_name) == (summit_admin.user, "clinics:organization_settings")
    # The sections VALID changes from their defaults, and no other.
    assert event.detail == "sections saved: organization, referrals, outreach"


def test_adding_staff_is_recorded_as_a_role_given(summit):
    membership = clinic_services.staff_create(
        organization=summit, username="newdesk", password="a long passphrase 7", role=Role.FRONT_DESK
    )

    event = AccessEvent.objects.get(kind=AccessKind.ROLE_CHANGE)
    assert (event.object_id, event.detail) == (membership.pk, "Front desk, active")
