"""Search that forgives how faxes and people write names: the typeahead, the directory and typed names.

Runs on SQLite by default and on PostgreSQL with DATABASE_URL, where the
resemblance comes from pg_trgm and its GIN index instead of Python.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinics.models import Role
from physicians.identifiers import npi_check_digit
from physicians.search import SearchQuery, searchable, strict_word_similarity
from physicians.selectors import PhysicianFilters, physician_list, physician_search, physicians_named

from ..factories import AffiliationFactory, PhysicianFactory, PracticeFactory

# Outside the factories' sequence (which starts with 1), so no physician made
# earlier in the run can hold it however many the other tests make.
MBEKI_NPI = "200007001" + str(npi_check_digit("200007001"))


@pytest.fixture
def directory(summit, harbor):
    """Summit's physicians, and a Harbor twin of each, who must never be found from Summit."""
    people = {}
    for organization in (harbor, summit):
        practice = PracticeFactory(organization=organization, name="Rose City Spine", phone="(503) 555-0142")
        people = {
            "mbeki": AffiliationFactory(
                organization=organization,
                practice=practice,
                physician__first_name="Grace",
                physician__middle_name="A.",
                physician__last_name="Mbeki",
                physician__credential="MD",
                physician__npi=MBEKI_NPI,
            ).physician,
            "oconnell": PhysicianFactory(
                organization=organization, first_name="Siobhán", last_name="O'Connell", credential="PA-C"
            ),
            "fischer": PhysicianFactory(
                organization=organization, first_name="Hans", last_name="Fischer", credential="DPT"
            ),
            "nakamura": PhysicianFactory(
                organization=organization, first_name="Kenji", last_name="Nakamura", credential="M.D."
            ),
            "nunez": PhysicianFactory(
                organization=organization, first_name="José", last_name="Núñez-Ortiz", credential="NP"
            ),
        }
    PhysicianFactory(organization=summit, first_name="Bob", last_name="Smith")
    return people


SEARCHES = [
    ("Dr. Mbeki", "mbeki"),
    ("Doctor Grace Mbeki", "mbeki"),
    ("Mbeki, Grace", "mbeki"),
    ("grace mbeki", "mbeki"),
    ("MBEKI GRACE A", "mbeki"),
    ("Grace Mbeki, M.D.", "mbeki"),
    ("mbecki", "mbeki"),
    ("(503) 555-0142", "mbeki"),
    ("503.555.0142", "mbeki"),
    ("5035550142", "mbeki"),
    ("+1 503 555 0142", "mbeki"),
    (MBEKI_NPI[-4:], "mbeki"),
    (MBEKI_NPI, "mbeki"),
    ("oconnell", "oconnell"),
    ("O'Connell", "oconnell"),
    ("o’connell siobhan", "oconnell"),
    ("Siobhan O'Connell PA-C", "oconnell"),
    ("fisher", "fischer"),
    ("Dr Hans Fisher DPT", "fischer"),
    ("Nakamura MD", "nakamura"),
    ("nakamora", "nakamura"),
    ("nunez", "nunez"),
    ("Jose Nunez Ortiz", "nunez"),
    ("nunez-ortiz", "nunez"),
]


@pytest.mark.parametrize(("query", "who"), SEARCHES)
def test_the_typeahead_finds_the_physician_however_they_are_written(directory, summit, query, who):
    found = physician_search(organization=summit, query=query)

    assert directory[who] in found
    assert all(physician.organization_id == summit.pk for physician in found)


@pytest.mark.parametrize(("query", "who"), SEARCHES)
def test_the_directory_finds_the_physician_however_they_are_written(directory, summit, query, who):
    found = list(physician_list(organization=summit, filters=PhysicianFilters(query=query)))

    assert directory[who] in found
    assert all(physician.organization_id == summit.pk for physician in found)


@pytest.mark.parametrize("query", ["zzzz", "Dr. Zhivago", "5035550199", "9999"])
def test_what_matches_nobody_finds_nobody(directory, summit, query):
    assert physician_search(organization=summit, query=query) == []
    assert list(physician_list(organization=summit, filters=PhysicianFilters(query=query))) == []


def test_exact_spellings_rank_above_close_ones(summit):
    fischer = PhysicianFactory(organization=summit, first_name="Anna", last_name="Fischer")
    fisher = PhysicianFactory(organization=summit, first_name="Zoe", last_name="Fisher")
    fishman = PhysicianFactory(organization=summit, first_name="Al", last_name="Fisherman")

    found = physician_search(organization=summit, query="fisher")
    listed = list(physician_list(organization=summit, filters=PhysicianFilters(query="fisher")))

    # The whole word first, then the word it begins, then the resemblance.
    assert found == listed == [fisher, fishman, fischer]


def test_a_surname_that_is_also_a_credential_still_ranks_its_owner_first(summit):
    PhysicianFactory(organization=summit, first_name="Linh", last_name="Abbott", credential="DO")
    do = PhysicianFactory(organization=summit, first_name="Linh", last_name="Do", credential="MD")

    assert physician_search(organization=summit, query="Linh Do")[0] == do
    assert physicians_named(organization=summit, query="Linh Do") == [do]


def test_a_named_physician_is_found_by_their_name_however_it_is_written(directory, summit):
    mbeki = directory["mbeki"]

    for query in ["Dr. Grace Mbeki", "Mbeki, Grace", "grace a mbeki md", "GRACE MBEKI, M.D."]:
        assert physicians_named(organization=summit, query=query) == [mbeki], query
    assert physicians_named(organization=summit, query="siobhan oconnell") == [directory["oconnell"]]
    # Resolving a typed name stays exact: a resemblance is for lists to offer, not to pick.
    assert physicians_named(organization=summit, query="Grace Mbecki") == []


def test_a_changed_phone_or_name_is_searched_at_once(directory, summit):
    practice = directory["mbeki"].affiliations.get().practice
    practice.phone = "971-555-0100"
    practice.save()
    fischer = directory["fischer"]
    fischer.last_name = "Vogel"
    fischer.save()

    assert directory["mbeki"] in physician_search(organization=summit, query="9715550100")
    assert physician_search(organization=summit, query="5035550142") == []
    assert physician_search(organization=summit, query="vogel") == [fischer]


@pytest.mark.parametrize(
    "query",
    ["mbeki", "Dr. Mbeki", "fisher", "5035550142", MBEKI_NPI[-4:], "1000", "ng", "rose city"],
)
def test_the_typeahead_costs_the_same_queries_for_one_match_or_fifty(client, summit, member_factory, query):
    client.force_login(member_factory(summit, Role.FRONT_DESK).user)
    practice = PracticeFactory(organization=summit, name="Rose City Spine", phone="(503) 555-0142")

    def queries_for_search() -> int:
        client.get(reverse("physicians:search"), {"q": query})  # the session's first queries
        with CaptureQueriesContext(connection) as captured:
            client.get(reverse("physicians:search"), {"q": query})
        return len(captured)

    def add(last_name: str, **physician) -> None:
        AffiliationFactory(
            organization=summit, practice=practice, physician__last_name=last_name, **physician
        )

    add("Mbeki", physician__npi=MBEKI_NPI)
    add("Fischer")
    add("Ngata")
    one = queries_for_search()
    for n in range(50):
        add(("Fischer", "Ngata", "Mbeki")[n % 3])

    assert queries_for_search() == one <= 7


@pytest.mark.parametrize(
    ("parts", "key"),
    [
        (("Siobhán", "O'Connell-Ruiz"), "siobhan oconnell ruiz"),
        (("Ørsted", "Straße"), "orsted strasse"),
        (("Mbeki,  Grace", "A."), "mbeki grace a"),
    ],
)
def test_searchable_text(parts, key):
    assert searchable(*parts) == key


@pytest.mark.parametrize(
    ("query", "words", "number"),
    [
        ("Dr. Mbeki", ("mbeki",), ""),
        ("Nakamura, M.D.", ("nakamura",), ""),
        ("Dr. MD", ("md",), ""),
        ("(503) 555-0142", (), "5035550142"),
        ("1-503-555-0142", (), "5035550142"),
    ],
)
def test_queries_lose_titles_credentials_and_phone_formatting(query, words, number):
    parsed = SearchQuery.parse(query)

    assert (parsed.words, parsed.number) == (words, number)


@pytest.mark.parametrize(
    ("query", "text", "similarity"),
    [
        ("fisher", "grace fischer", 0.5),
        ("word", "two words", 0.5714),
        ("mbeki grace", "grace mbeki", 1.0),
        ("smi", "bob smith", 0.4286),
        ("", "anything", 0.0),
    ],
)
def test_python_similarity_is_pg_trgms_strict_word_similarity(query, text, similarity):
    # Values computed by PostgreSQL 15's pg_trgm, which SQLite's stand-in must reproduce.
    assert strict_word_similarity(query, text) == pytest.approx(similarity, abs=1e-4)
