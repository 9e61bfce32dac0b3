"""The digest as a page, the preferences page, the admin's list and the test send."""

import datetime

import pytest
from django.urls import reverse

from clinics.models import Role
from digests.models import DigestPreference
from outbox.models import OutboundEmail

from ..factories import MembershipFactory, ReferralFactory
from .conftest import preference_of


def test_the_digest_page_shows_the_persons_own_digest_and_names_patients_by_initial(
    client, login, make_member
):
    therapist = make_member(Role.THERAPIST)
    ReferralFactory(
        organization=therapist.organization,
        therapist=therapist.user,
        patient_first_name="Maria",
        patient_last_name="Lopez",
        received_at=datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=7),
    )
    login(therapist)

    response = client.get(reverse("digests:mine"), follow=True)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Your weekly digest" in page
    assert "Maria L." in page
    assert "Lopez" not in page


def test_an_empty_week_says_so_in_one_line(client, login, make_member):
    liaison = make_member(Role.LIAISON)
    login(liaison)

    response = client.get(reverse("digests:view", kwargs={"organization_id": liaison.organization_id}))

    assert response.status_code == 200
    assert "Nothing needs you this week" in response.content.decode()


def test_preferences_are_saved_and_bad_input_is_refused_without_saving(client, login, make_member):
    liaison = make_member(Role.LIAISON)
    login(liaison)
    url = reverse("digests:preferences", kwargs={"organization_id": liaison.organization_id})

    assert client.get(url).status_code == 200
    refused = client.post(url, {"enabled": "on", "weekday": "9", "hour": "30", "sections": ["attention"]})
    saved = client.post(
        url, {"enabled": "on", "weekday": "3", "hour": "6", "sections": ["attention", "lift"]}
    )

    assert refused.status_code == 200
    assert saved.status_code == 302
    preference = preference_of(liaison)
    assert (preference.weekday, preference.hour) == (3, 6)
    assert set(preference.sections_off) == {"followups", "new_sources", "top_sources", "touches"}


def test_admins_see_who_receives_what(client, login, make_member):
    admin = make_member(Role.ADMIN)
    therapist = make_member(Role.THERAPIST)
    make_member(Role.FRONT_DESK)
    login(admin)

    response = client.get(reverse("digests:recipients"))

    assert response.status_code == 200
    page = response.content.decode()
    assert therapist.user.get_full_name() in page
    assert "Plans of care to sign" in page
    assert "Monday 07:00" in page


def test_send_my_digest_now_queues_one_test_send_a_week(client, login, make_member):
    admin = make_member(Role.ADMIN)
    login(admin)
    url = reverse("digests:send_test", kwargs={"organization_id": admin.organization_id})

    first = client.post(url, follow=True)
    second = client.post(url, follow=True)

    assert "queued" in first.content.decode()
    assert "already queued" in second.content.decode()
    (email,) = OutboundEmail.objects.filter(kind="weekly_digest")
    assert email.idempotency_key.startswith(f"digest-test:{admin.organization_id}:{admin.user_id}:")
    assert email.to_address == admin.user.email


def test_a_link_from_another_organizations_digest_switches_to_it(client, login, summit, harbor):
    summit_admin = MembershipFactory(organization=summit, role=Role.ADMIN)
    MembershipFactory(organization=harbor, user=summit_admin.user, role=Role.THERAPIST)
    login(summit_admin)
    url = reverse("digests:view", kwargs={"organization_id": harbor.pk})

    response = client.get(url, follow=True)

    assert response.status_code == 200
    assert response.context["digest"].organization == harbor
    assert response.context["digest"].membership.role == Role.THERAPIST
    assert DigestPreference.objects.filter(organization=harbor).exists()


@pytest.mark.parametrize("url_name", ["digests:view", "digests:preferences"])
def test_a_digest_link_opens_whatever_the_role_in_the_organization_the_person_was_working_in(
    client, login, summit, harbor, url_name
):
    """The front desk at Summit gets no digest there, but is a therapist at Harbor, who does."""
    front_desk = MembershipFactory(organization=summit, role=Role.FRONT_DESK)
    MembershipFactory(organization=harbor, user=front_desk.user, role=Role.THERAPIST)
    login(front_desk)
    client.post(reverse("clinics:switch_organization", kwargs={"organization_id": summit.pk}))
    assert client.get(reverse("home")).context["request"].organization == summit

    response = client.get(reverse(url_name, kwargs={"organization_id": harbor.pk}), follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[0][1] == 302
    assert client.get(reverse("home")).context["request"].organization == harbor
    summit_link = client.get(reverse(url_name, kwargs={"organization_id": summit.pk}))
    assert summit_link.status_code == 404


@pytest.mark.parametrize("url_name", ["digests:view", "digests:preferences"])
def test_an_organization_the_person_is_not_in_is_404(client, login, summit, harbor, url_name):
    login(MembershipFactory(organization=summit, role=Role.ADMIN))

    assert client.get(reverse(url_name, kwargs={"organization_id": harbor.pk})).status_code == 404


def test_the_page_says_so_when_the_email_it_came_from_was_of_another_week(client, login, make_member):
    admin = make_member(Role.ADMIN)
    login(admin)
    url = reverse("digests:view", kwargs={"organization_id": admin.organization_id})

    older = client.get(url, {"week": "2026-W01"})
    nonsense = client.get(url, {"week": "W99<script>"})

    assert "was for the week of Dec 29, 2025" in older.content.decode()
    assert nonsense.status_code == 200
    assert "was for the week of" not in nonsense.content.decode()
