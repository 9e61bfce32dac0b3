import pytest
from django.urls import reverse

from clinics.models import Role
from outreach.selectors import outreach_settings_get
from physicians.models import Affiliation, Physician, Stage, StageChange
from tests.audit.queries import access_event_queries

from ..factories import (
    AffiliationFactory,
    ClinicFactory,
    GatekeeperFactory,
    PayerFactory,
    PhysicianFactory,
    PracticeFactory,
)

VALID_NPI = "1234567893"


@pytest.fixture
def liaison_client(client, summit, member_factory):
    client.force_login(member_factory(summit, Role.LIAISON).user)
    return client


def physician_form(practice, **overrides):
    data = {
        "first_name": "Ada",
        "last_name": "Nguyen",
        "credential": "MD",
        "npi": VALID_NPI,
        "taxonomy_code": "207XX0005X",
        "primary_practice": practice.pk,
        "update_channel": "fax",
        "update_rhythm": "after_evaluation",
        "tier": "B",
    }
    return {**data, **overrides}


def test_liaison_adds_a_physician_with_a_practice(liaison_client, summit):
    practice = PracticeFactory(organization=summit)

    response = liaison_client.post(reverse("physicians:create"), physician_form(practice))

    physician = Physician.objects.get(npi=VALID_NPI)
    assert response.url == reverse("physicians:detail", args=[physician.pk])
    assert physician.organization == summit
    assert physician.specialty == "Orthopaedic Surgery – Sports Medicine"
    assert Affiliation.objects.get(physician=physician).is_primary
    assert StageChange.objects.get(physician=physician).to_stage == Stage.PROSPECT


@pytest.mark.parametrize(
    ("npi", "message"),
    [
        ("1234567890", "This NPI's check digit is wrong; look for a mistyped digit."),
        ("8554084011", "An NPI starts with 1 or 2."),
        ("12345", "An NPI is exactly 10 digits."),
    ],
)
def test_a_bad_npi_says_why(liaison_client, summit, npi, message):
    practice = PracticeFactory(organization=summit)

    response = liaison_client.post(reverse("physicians:create"), physician_form(practice, npi=npi))

    assert response.status_code == 200
    assert message in response.context["form"].errors["npi"]
    assert not Physician.objects.exists()


def test_the_same_npi_twice_is_refused(liaison_client, summit):
    practice = PracticeFactory(organization=summit)
    PhysicianFactory(organization=summit, npi=VALID_NPI)

    response = liaison_client.post(reverse("physicians:create"), physician_form(practice))

    assert "Another physician in your directory has this NPI." in response.content.decode()
    assert Physician.objects.count() == 1


def test_the_same_npi_in_another_organization_is_fine(liaison_client, summit, harbor):
    PhysicianFactory(organization=harbor, npi=VALID_NPI)

    liaison_client.post(reverse("physicians:create"), physician_form(PracticeFactory(organization=summit)))

    assert Physician.objects.filter(npi=VALID_NPI).count() == 2


def test_the_same_name_at_the_same_practice_asks_for_confirmation(liaison_client, summit):
    existing = AffiliationFactory(
        organization=summit, physician__first_name="Ada", physician__last_name="Nguyen"
    )
    data = physician_form(existing.practice, npi="")

    warned = liaison_client.post(reverse("physicians:create"), data)
    page = warned.content.decode()
    assert "already has someone with this name at this practice" in page
    # The same warning box as intake's, with the one box to tick.
    assert '<div class="alert alert-warning" role="alert">' in page
    assert page.count('name="confirm_duplicate"') == 1
    assert Physician.objects.count() == 1

    confirmed = liaison_client.post(reverse("physicians:create"), {**data, "confirm_duplicate": "on"})
    assert confirmed.status_code == 302
    assert Physician.objects.count() == 2


def test_another_organizations_practice_cannot_be_chosen(liaison_client, harbor):
    response = liaison_client.post(
        reverse("physicians:create"), physician_form(PracticeFactory(organization=harbor))
    )

    assert "primary_practice" in response.context["form"].errors
    assert not Physician.objects.exists()


def test_stage_change_is_recorded_in_the_history(liaison_client, summit):
    physician = PhysicianFactory(organization=summit)

    liaison_client.post(
        reverse("physicians:stage", args=[physician.pk]), {"stage": "first_impression", "note": "Lunch"}
    )

    physician.refresh_from_db()
    assert physician.stage == Stage.FIRST_IMPRESSION
    change = StageChange.objects.get(physician=physician)
    assert (change.from_stage, change.to_stage, change.note) == (
        Stage.PROSPECT,
        Stage.FIRST_IMPRESSION,
        "Lunch",
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "zelda"}, {"Zelda"}),
        ({"q": "núñez"}, {"Jose"}),
        ({"q": "1999"}, {"Zelda"}),
        ({"q": "highlands"}, {"Zelda"}),
        ({"stage": "maintaining"}, {"Jose"}),
        ({"tier": "A"}, {"Jose"}),
        ({"specialty": "213E00000X"}, {"Jose"}),
        ({"active": "no"}, {"Retired"}),
        ({"active": "all"}, {"Zelda", "Jose", "Retired"}),
    ],
)
def test_physician_list_search_and_filters(liaison_client, summit, params, expected):
    highlands = PracticeFactory(organization=summit, name="Highlands Orthopedics")
    zelda = PhysicianFactory(organization=summit, first_name="Zelda", last_name="Fitz", npi="1999000003")
    AffiliationFactory(organization=summit, physician=zelda, practice=highlands)
    PhysicianFactory(
        organization=summit,
        first_name="Jose",
        last_name="O'Brien-Núñez",
        stage="maintaining",
        tier="A",
        taxonomy_code="213E00000X",
    )
    PhysicianFactory(organization=summit, first_name="Retired", is_active=False)

    response = liaison_client.get(reverse("physicians:list"), params)

    assert {p.first_name for p in response.context["page"]} == expected


def test_payer_filter_matches_physicians_through_their_practices(liaison_client, summit):
    medicare = PayerFactory(organization=summit, name="Medicare")
    practice = PracticeFactory(organization=summit)
    practice.payers.add(medicare)
    taking = AffiliationFactory(organization=summit, practice=practice).physician
    PhysicianFactory(organization=summit)

    response = liaison_client.get(reverse("physicians:list"), {"payer": medicare.pk})

    assert list(response.context["page"]) == [taking]


@pytest.mark.parametrize("url_name", ["physicians:list", "physicians:prospects", "physicians:practice_list"])
def test_lists_run_constant_queries(liaison_client, summit, url_name, django_assert_max_num_queries):
    ClinicFactory(organization=summit)
    for _ in range(30):
        affiliation = AffiliationFactory(organization=summit)
        affiliation.practice.payers.add(PayerFactory(organization=summit))

    with django_assert_max_num_queries(14):
        response = liaison_client.get(reverse(url_name))

    assert response.status_code == 200
    assert len(response.context["page"]) == 25


def test_physician_detail_runs_constant_queries(liaison_client, summit, django_assert_max_num_queries):
    physician = PhysicianFactory(organization=summit)
    for index in range(6):
        affiliation = AffiliationFactory(organization=summit, physician=physician, is_primary=index == 0)
        GatekeeperFactory(organization=summit, practice=affiliation.practice)
        affiliation.practice.payers.add(PayerFactory(organization=summit))
    outreach_settings_get(organization=summit)  # made by the organization's first page that reads it

    # 20, and the History: the physician's rows and their touches' rows.
    with django_assert_max_num_queries(22 + access_event_queries()):
        response = liaison_client.get(reverse("physicians:detail", args=[physician.pk]))

    assert response.status_code == 200
    assert [len(gatekeepers) for _, gatekeepers in response.context["practices"]] == [1] * 6


def test_practice_detail_lists_physicians_and_gatekeepers(
    liaison_client, summit, django_assert_max_num_queries
):
    practice = PracticeFactory(organization=summit)
    for _ in range(5):
        AffiliationFactory(organization=summit, practice=practice)
        GatekeeperFactory(organization=summit, practice=practice, first_name="Tina")

    # 16, and the History: the practice's rows, its gatekeepers' and its touches'.
    with django_assert_max_num_queries(19):
        response = liaison_client.get(reverse("physicians:practice_detail", args=[practice.pk]))

    assert len(response.context["practice"].gatekeepers.all()) == 5
    assert len(response.context["practice"].affiliations.all()) == 5
    assert "Tina" in response.content.decode()


def test_gatekeeper_is_added_to_a_practice(liaison_client, summit):
    practice = PracticeFactory(organization=summit)

    liaison_client.post(
        reverse("physicians:gatekeeper_create", args=[practice.pk]),
        {
            "first_name": "Tina",
            "last_name": "Ross",
            "role": "referral_coordinator",
            "phone": "303-555-0100",
            "preferred_contact": "phone",
            "is_active": "on",
        },
    )

    assert practice.gatekeepers.get().first_name == "Tina"


def test_front_desk_can_read_but_not_edit_the_directory(client, summit, member_factory):
    physician = PhysicianFactory(organization=summit)
    client.force_login(member_factory(summit, Role.FRONT_DESK).user)

    assert client.get(reverse("physicians:detail", args=[physician.pk])).status_code == 200
    assert client.get(reverse("physicians:edit", args=[physician.pk])).status_code == 403
