"""Front desk finds a patient's referrals by name and date of birth: by POST only, in its own organization."""

import logging
from datetime import date

import pytest
from django.urls import reverse

from clinics.models import Role
from tests.audit.queries import access_event_queries

from ..factories import ReferralFactory

BORN = date(1961, 4, 9)
FIND = "referrals:patient_search"


@pytest.fixture
def patients(summit, harbor):
    """Summit's referrals of Siobhán O'Connell-Ruiz and of others; Harbor's of the same patient."""
    return {
        "older": ReferralFactory(
            organization=summit,
            patient_first_name="Siobhán",
            patient_last_name="O'Connell-Ruiz",
            patient_birth_date=BORN,
            received_at="2026-01-05T15:00:00Z",
        ),
        "newer": ReferralFactory(
            organization=summit,
            patient_first_name="Siobhan",
            patient_last_name="OConnell Ruiz",
            patient_birth_date=BORN,
            received_at="2026-03-02T15:00:00Z",
        ),
        "same_day_other_name": ReferralFactory(
            organization=summit,
            patient_first_name="Maria",
            patient_last_name="Lopez",
            patient_birth_date=BORN,
        ),
        "same_name_other_day": ReferralFactory(
            organization=summit,
            patient_first_name="Siobhan",
            patient_last_name="O'Connell-Ruiz",
            patient_birth_date=date(1961, 4, 10),
        ),
        "misspelled": ReferralFactory(
            organization=summit,
            patient_first_name="Siobhan",
            patient_last_name="O'Connel-Ruiz",
            patient_birth_date=BORN,
            received_at="2026-04-01T15:00:00Z",
        ),
        "harbor": ReferralFactory(
            organization=harbor,
            patient_first_name="Siobhan",
            patient_last_name="O'Connell-Ruiz",
            patient_birth_date=BORN,
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "Siobhan O'Connell-Ruiz",
        "o'connell-ruiz, siobhán",
        "OCONNELL SIOBHAN",
        "oconnell ruiz",
        "siob o'connell",
    ],
)
def test_a_patient_is_found_by_name_and_birth_date_however_the_name_is_written(desk, patients, name):
    response = desk.post(reverse(FIND), {"name": name, "birth_date": "04/09/1961"})

    assert response.status_code == 200
    # Exact names first, newest first; then the fax's misspelling.
    assert response.context["results"][:2] == [patients["newer"], patients["older"]]
    assert patients["harbor"] not in response.context["results"]
    assert patients["same_day_other_name"] not in response.context["results"]
    assert patients["same_name_other_day"] not in response.context["results"]


def test_a_close_spelling_is_found_below_the_exact_ones(desk, patients):
    response = desk.post(reverse(FIND), {"name": "Siobhan OConnell Ruiz", "birth_date": "04091961"})

    assert response.context["results"] == [patients["newer"], patients["older"], patients["misspelled"]]


def test_another_organizations_patient_is_never_found(desk, harbor):
    ReferralFactory(
        organization=harbor, patient_first_name="Ada", patient_last_name="Quill", patient_birth_date=BORN
    )

    response = desk.post(reverse(FIND), {"name": "Ada Quill", "birth_date": "04/09/1961"})

    assert response.context["results"] == []
    assert "No referral of your organization" in response.content.decode()


def test_a_get_searches_nothing_and_the_name_never_reaches_a_url(desk, patients):
    response = desk.get(reverse(FIND), {"name": "Siobhan O'Connell-Ruiz", "birth_date": "04/09/1961"})

    assert response.status_code == 200
    assert response.context["results"] is None
    page = desk.get(reverse(FIND)).content.decode()
    assert 'method="post"' in page
    assert f'action="{reverse(FIND)}?' not in page


def test_the_search_leaves_no_patient_details_in_logs(desk, patients, caplog):
    with caplog.at_level(logging.DEBUG):
        response = desk.post(reverse(FIND), {"name": "Siobhan O'Connell-Ruiz", "birth_date": "04/09/1961"})

    assert response.status_code == 200
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "connell" not in logged.lower()
    assert "1961" not in logged
    # Results list the first name and last initial, as every list does.
    page = response.content.decode()
    assert "Siobhan O." in page
    assert "OConnell Ruiz" not in page


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": "S", "birth_date": "04/09/1961"}, "at least two letters"),
        ({"name": "Siobhan", "birth_date": "13/45/1961"}, "MM/DD/YYYY"),
        ({"name": "Siobhan", "birth_date": ""}, "required"),
    ],
)
def test_bad_input_is_explained(desk, data, error):
    response = desk.post(reverse(FIND), data)

    assert response.status_code == 200
    assert response.context["results"] is None
    assert error in response.content.decode()


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.THERAPIST, Role.LIAISON, Role.ADMIN])
def test_every_role_that_sees_the_referral_list_can_search(client, summit, member_factory, role):
    client.force_login(member_factory(summit, role).user)

    assert client.post(reverse(FIND), {"name": "Ada Quill", "birth_date": "04/09/1961"}).status_code == 200


def test_the_search_costs_the_same_queries_for_one_referral_or_twenty(
    desk, summit, django_assert_max_num_queries
):
    def search():
        return desk.post(reverse(FIND), {"name": "Ada Quill", "birth_date": "04/09/1961"})

    ReferralFactory(
        organization=summit, patient_first_name="Ada", patient_last_name="Quill", patient_birth_date=BORN
    )
    search()
    with django_assert_max_num_queries(5 + access_event_queries()) as one:
        search()
    ReferralFactory.create_batch(
        19, organization=summit, patient_first_name="Ada", patient_last_name="Quill", patient_birth_date=BORN
    )
    with django_assert_max_num_queries(len(one)):
        assert len(search().context["results"]) == 20
