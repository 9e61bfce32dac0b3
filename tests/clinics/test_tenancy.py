import pytest
from django.apps import apps
from django.db import models
from django.http import Http404
from django.urls import reverse

from clinics.models import Clinic, Organization, Role
from clinics.tenancy import SESSION_ORGANIZATION_KEY, get_for_organization_or_404

from ..factories import ClinicFactory, MembershipFactory
from ..test_dependency_order import RAPPORT_APPS

# Models that are not owned by one organization, with the reason.
NOT_TENANT_OWNED = {
    "accounts.User": "a person may work for several organizations (see Membership)",
    "clinics.Organization": "the tenant itself",
    "clinics.Population": "a shared vocabulary of patient populations, the same for every organization",
}


def rapport_models():
    return [model for model in apps.get_models() if model._meta.app_label in RAPPORT_APPS]


def leading_index_fields(model):
    """First column of every index on the model, including the implicit FK indexes."""
    firsts = {field.name for field in model._meta.fields if field.db_index or field.unique}
    firsts |= {index.fields[0].lstrip("-") for index in model._meta.indexes if index.fields}
    firsts |= {
        constraint.fields[0]
        for constraint in model._meta.constraints
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields
    }
    return firsts


@pytest.mark.parametrize("model", rapport_models(), ids=lambda model: model._meta.label)
def test_every_model_is_owned_by_an_organization(model):
    if model._meta.label in NOT_TENANT_OWNED:
        return
    field = model._meta.get_field("organization")
    assert field.related_model is Organization
    assert not field.null, f"{model._meta.label}.organization must not be nullable"
    assert "organization" in leading_index_fields(model), (
        f"{model._meta.label} needs an index led by organization"
    )


def test_lookup_helper_answers_404_for_another_organization(summit, harbor):
    clinic = ClinicFactory(organization=summit)

    assert get_for_organization_or_404(Clinic, summit, pk=clinic.pk) == clinic
    with pytest.raises(Http404):
        get_for_organization_or_404(Clinic, harbor, pk=clinic.pk)


def test_request_organization_follows_the_chosen_membership(client, summit, harbor):
    user_membership = MembershipFactory(organization=summit, role=Role.ADMIN)
    MembershipFactory(organization=harbor, user=user_membership.user, role=Role.LIAISON)
    client.force_login(user_membership.user)

    home = client.get(reverse("home"))
    assert home.context["request"].organization == harbor  # first by name

    response = client.post(reverse("clinics:switch_organization", args=[summit.pk]))
    assert response.status_code == 302
    assert client.session[SESSION_ORGANIZATION_KEY] == summit.pk
    home = client.get(reverse("home"))
    assert home.context["request"].organization == summit
    assert home.context["request"].membership.role == Role.ADMIN
    assert b"Switch organization" in home.content


def test_switching_to_an_organization_without_membership_is_404(client, summit, harbor):
    membership = MembershipFactory(organization=summit)
    client.force_login(membership.user)

    assert client.post(reverse("clinics:switch_organization", args=[harbor.pk])).status_code == 404
    assert client.session.get(SESSION_ORGANIZATION_KEY) is None


def test_an_inactive_membership_gives_no_access_to_its_organization(client, summit, harbor):
    active = MembershipFactory(organization=summit)
    MembershipFactory(organization=harbor, user=active.user, is_active=False)
    client.force_login(active.user)
    client.post(reverse("clinics:switch_organization", args=[harbor.pk]))

    assert client.get(reverse("home")).context["request"].organization == summit


def test_signed_in_user_without_membership_is_signed_out(client, summit):
    membership = MembershipFactory(organization=summit, is_active=False)
    client.force_login(membership.user)

    response = client.get(reverse("home"), follow=True)

    assert response.redirect_chain[-1][0].startswith(reverse("login"))
    assert b"Your access to Rapport has ended" in response.content
    assert "_auth_user_id" not in client.session
