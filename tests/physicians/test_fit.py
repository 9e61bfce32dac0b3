import pytest

from clinics.models import Population
from physicians.fit import clinic_profile, fit_explanation, with_fit
from physicians.models import Physician, Practice
from physicians.selectors import PhysicianFilters, physician_detail, physician_fit, prospects

from ..factories import (
    AffiliationFactory,
    ClinicFactory,
    PayerFactory,
    PracticeFactory,
    ServiceOfferingFactory,
)


@pytest.fixture
def populations(db):
    return {p.code: p for p in Population.objects.all()}


@pytest.fixture
def clinic(summit, populations):
    """A clinic with 8 payers and a sports-rehab program."""
    clinic = ClinicFactory(organization=summit)
    clinic.payers.set([PayerFactory(organization=summit, name=f"Payer {i}") for i in range(8)])
    sports = ServiceOfferingFactory(organization=summit, clinic=clinic, name="Sports rehab")
    sports.populations.set([populations["sports"]])
    return clinic


def practice_accepting(summit, clinic, shared: int, population_codes, populations, others: int = 0):
    practice = PracticeFactory(organization=summit)
    payers = list(clinic.payers.order_by("name")[:shared])
    payers += [PayerFactory(organization=summit) for _ in range(others)]
    practice.payers.set(payers)
    practice.populations.set([populations[code] for code in population_codes])
    return practice


def test_fit_counts_shared_payers_and_matching_populations(summit, clinic, populations):
    practice = practice_accepting(summit, clinic, 6, ["sports", "geriatric"], populations, others=3)
    profile = clinic_profile(clinic)

    scored = with_fit(Practice.objects.filter(pk=practice.pk), profile, practice_path="practice").get()

    assert scored.fit_shared_payers == 6
    assert (scored.fit_populations, scored.fit_matched_populations) == (2, 1)
    assert scored.fit_score == round(60 * 6 / 8 + 40 * 1 / 2)  # 65


def test_explanation_in_words(summit, clinic, populations):
    profile = clinic_profile(clinic)

    text = fit_explanation(profile, shared_payers=6, populations=[populations["sports"]])

    assert text == "accepts 6 of your 8 payers; treats sports patients, and you offer Sports rehab"
    assert fit_explanation(profile, shared_payers=0, populations=[]) == (
        "accepts 0 of your 8 payers; patient populations not recorded"
    )
    assert "which none of your services target" in fit_explanation(
        profile, shared_payers=2, populations=[populations["pediatric"]]
    )


def test_physician_fit_uses_all_their_practices(summit, clinic, populations):
    first = practice_accepting(summit, clinic, 4, ["sports"], populations)
    second = practice_accepting(summit, clinic, 8, ["pediatric"], populations)
    affiliation = AffiliationFactory(organization=summit, practice=first)
    AffiliationFactory(
        organization=summit, physician=affiliation.physician, practice=second, is_primary=False
    )

    physician = physician_detail(organization=summit, physician_id=affiliation.physician_id)
    score, explanation = physician_fit(physician=physician, profile=clinic_profile(clinic))

    assert score == round(60 * 8 / 8 + 40 * 1 / 2)
    assert explanation.startswith("accepts 8 of your 8 payers; treats sports patients")


def test_clinic_without_payers_or_services_scores_zero_and_says_why(summit, populations):
    bare = ClinicFactory(organization=summit)
    practice = PracticeFactory(organization=summit)
    practice.populations.set([populations["sports"]])
    profile = clinic_profile(bare)

    scored = with_fit(Practice.objects.filter(pk=practice.pk), profile, practice_path="practice").get()

    assert scored.fit_score == 0
    assert fit_explanation(profile, shared_payers=0, populations=[populations["sports"]]).startswith(
        "your clinic has no payers recorded"
    )


def test_prospects_rank_by_fit_and_leave_out_referring_physicians(summit, clinic, populations):
    good = AffiliationFactory(
        organization=summit, practice=practice_accepting(summit, clinic, 8, ["sports"], populations)
    ).physician
    weak = AffiliationFactory(
        organization=summit, practice=practice_accepting(summit, clinic, 1, ["pediatric"], populations)
    ).physician
    referring = AffiliationFactory(
        organization=summit, practice=practice_accepting(summit, clinic, 8, ["sports"], populations)
    ).physician
    Physician.objects.filter(pk=referring.pk).update(stage="maintaining")

    ranked = list(prospects(organization=summit, profile=clinic_profile(clinic), filters=PhysicianFilters()))

    assert ranked == [good, weak]
    assert ranked[0].fit_score == 100


def test_prospects_page_shows_the_explanation(client, summit, clinic, populations, member_factory):
    AffiliationFactory(
        organization=summit, practice=practice_accepting(summit, clinic, 6, ["sports"], populations)
    )
    client.force_login(member_factory(summit, "liaison").user)

    response = client.get("/directory/prospects/", {"clinic": clinic.pk})

    assert "Accepts 6 of your 8 payers; treats sports patients, and you offer Sports rehab" in (
        response.content.decode()
    )
