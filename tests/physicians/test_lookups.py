"""A physician named by a typed full name or NPI, for forms used without JavaScript."""

import pytest

from physicians.selectors import NAMED_CANDIDATES_MAX, physician_answers_to, physicians_named

from ..factories import PhysicianFactory


@pytest.mark.parametrize(
    ("query", "answers"),
    [
        ("Ada Quill", True),
        ("  quill, ada ", True),
        ("Ada B. Quill", True),
        ("Ada Quill, MD", True),
        ("Ada Quill MD", True),
        ("Quill", False),
        ("Ada", False),
        ("Ada Quilt", False),
        ("", False),
    ],
)
def test_a_physician_answers_to_their_full_name(summit, query, answers):
    ada = PhysicianFactory(
        organization=summit, first_name="Ada", middle_name="B.", last_name="Quill", credential="MD"
    )

    assert physician_answers_to(ada, query) is answers


def test_a_physician_answers_to_their_npi_only_in_full(summit):
    ada = PhysicianFactory(organization=summit)

    assert physician_answers_to(ada, ada.npi)
    assert not physician_answers_to(ada, ada.npi[:9])


def test_physicians_named_are_the_organizations_exact_matches(summit, harbor):
    ada = PhysicianFactory(organization=summit, first_name="Ada", last_name="Quill")
    PhysicianFactory(organization=summit, first_name="Adam", last_name="Quill")
    PhysicianFactory(organization=harbor, first_name="Ada", last_name="Quill")

    assert physicians_named(organization=summit, query="Ada Quill") == [ada]
    assert physicians_named(organization=summit, query=ada.npi) == [ada]
    assert physicians_named(organization=summit, query="A Q") == []


def test_a_name_too_common_to_compare_names_nobody(summit):
    PhysicianFactory.create_batch(
        NAMED_CANDIDATES_MAX + 1, organization=summit, first_name="Jo", last_name="Smith"
    )

    assert physicians_named(organization=summit, query="Jo Smith") == []
