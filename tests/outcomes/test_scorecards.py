"""Scorecards: figures computed from the referrals of a period, one source's or all, in constant queries."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import Visit
from clinics.models import Role
from outcomes.models import NpsResponse, OutcomeScore, Phase
from outcomes.selectors import scorecard, scorecard_sources
from outcomes.views import months_before
from referrals.models import LossReason, Referral, Status

from ..factories import ClinicFactory, PhysicianFactory, ReferralFactory

NOW = datetime.datetime(2026, 6, 15, 18, 0, tzinfo=datetime.UTC)
TODAY = datetime.date(2026, 6, 15)
YEAR_AGO = datetime.date(2025, 6, 15)
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_clock")]


@pytest.fixture
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def physician(summit):
    return PhysicianFactory(organization=summit, first_name="Dana", last_name="Whitfield")


def referral_of(physician, clinic, *, status, days_ago=40, visits=(), **fields):
    received = NOW - datetime.timedelta(days=days_ago)
    referral = ReferralFactory(
        organization=physician.organization,
        clinic=clinic,
        physician=physician,
        status=status,
        received_at=received,
        **fields,
    )
    Visit.objects.bulk_create(
        Visit(
            organization=physician.organization,
            referral=referral,
            clinic=clinic,
            service_date=received.date() + datetime.timedelta(days=day),
        )
        for day in visits
    )
    Referral.objects.filter(pk=referral.pk).update(visits_attended=len(visits))
    return referral


def scores(referral, instrument, intake, latest):
    OutcomeScore.objects.bulk_create(
        OutcomeScore(
            organization=referral.organization,
            referral=referral,
            instrument=instrument,
            phase=phase,
            score=Decimal(score),
            taken_on=day,
        )
        for phase, score, day in (
            (Phase.INTAKE, intake, datetime.date(2026, 5, 10)),
            (Phase.DISCHARGE, latest, datetime.date(2026, 6, 10)),
        )
    )


def nps(referral, score):
    NpsResponse.objects.create(
        organization=referral.organization,
        referral=referral,
        score=score,
        answered_on=datetime.date(2026, 6, 10),
    )


@pytest.fixture
def dana_referrals(summit, summit_clinic, physician):
    discharged = referral_of(physician, summit_clinic, status=Status.DISCHARGED, visits=(3, 5, 7, 9))
    evaluated = referral_of(physician, summit_clinic, status=Status.IN_CARE, visits=(5,))
    lost = referral_of(physician, summit_clinic, status=Status.LOST, loss_reason=LossReason.UNREACHABLE)
    scores(discharged, "lefs", "30", "50")  # 20 better: reached (9)
    scores(discharged, "odi", "40", "35")  # 5 better: short of min(10, 12)
    scores(evaluated, "lefs", "40", "45")  # 5 better: short
    scores(evaluated, "koos_jr", "50", "60")  # no MCID: no verdict
    nps(discharged, 10)
    nps(evaluated, 6)
    return discharged, evaluated, lost


@pytest.fixture
def others(summit, summit_clinic, harbor, harbor_clinic):
    """Referrals that must not count in Dana's scorecard: another physician's, another organization's."""
    other = referral_of(PhysicianFactory(organization=summit), summit_clinic, status=Status.DISCHARGED)
    scores(other, "lefs", "20", "70")
    nps(other, 10)
    theirs = referral_of(PhysicianFactory(organization=harbor), harbor_clinic, status=Status.DISCHARGED)
    scores(theirs, "lefs", "20", "21")
    nps(theirs, 0)
    return other, theirs


def test_a_physicians_scorecard_is_computed_from_their_referrals(summit, physician, dana_referrals, others):
    old = referral_of(physician, dana_referrals[0].clinic, status=Status.DISCHARGED, days_ago=400)
    nps(old, 0)

    card = scorecard(organization=summit, since=YEAR_AGO, until=TODAY, physician_id=physician.pk)

    assert (card.received, card.evaluated, card.discharged) == (3, 2, 1)
    assert round(card.conversion, 3) == 0.667
    assert card.visits_per_episode == Decimal("4.0")
    assert (card.median_days_to_first_visit, card.first_visits_counted) == (Decimal(4), 2)
    outcomes = {row.instrument.code: row for row in card.outcomes}
    assert list(outcomes) == ["lefs", "odi", "koos_jr"]
    lefs = outcomes["lefs"]
    assert (lefs.patients, lefs.mean_improvement, lefs.judged, lefs.reached) == (2, Decimal("12.5"), 2, 1)
    assert lefs.change_words == "12.5 points better"
    assert (outcomes["odi"].judged, outcomes["odi"].reached) == (1, 0)
    assert (outcomes["koos_jr"].judged, outcomes["koos_jr"].share_reached) == (0, None)
    assert (card.patients_with_outcomes, card.judged_changes, card.reached_changes) == (2, 3, 1)
    assert (card.nps.promoters, card.nps.passives, card.nps.detractors, card.nps.score) == (1, 0, 1, 0)


def test_the_clinics_scorecard_counts_every_source_of_the_organization_only(summit, dana_referrals, others):
    card = scorecard(organization=summit, since=YEAR_AGO, until=TODAY)

    assert card.received == 4
    assert (card.nps.answers, card.nps.score) == (3, 33)
    assert {row.instrument.code: row.patients for row in card.outcomes} == {"lefs": 3, "odi": 1, "koos_jr": 1}


def test_per_source_rows_give_each_physicians_nps_and_mcid_share(summit, physician, dana_referrals, others):
    rows = scorecard_sources(organization=summit, since=YEAR_AGO, until=TODAY)

    assert [row.physician for row in rows] == [physician, others[0].physician]
    dana, other = rows
    assert (dana.received, dana.evaluated, dana.nps.score, dana.judged_changes, dana.reached_changes) == (
        3,
        2,
        0,
        3,
        1,
    )
    assert (other.received, other.nps.score, other.share_reached) == (1, 100, 1.0)


def test_an_empty_scorecard_says_so(client, login, summit_admin, physician):
    login(summit_admin)

    page = client.get(reverse("outcomes:physician_scorecard", args=[physician.pk])).content.decode()

    assert "No patient of this period has an intake score and a later one yet." in page
    assert "No patient of this period has answered yet." in page


def test_the_scorecard_page_shows_the_figures_and_names_no_patient(
    client, login, summit, member_factory, physician, dana_referrals
):
    login(member_factory(summit, Role.LIAISON))

    page = client.get(reverse("outcomes:physician_scorecard", args=[physician.pk])).content.decode()

    assert "How the patients you referred did" in page
    assert "Dana Whitfield" in page
    assert "12.5 points better" in page
    assert '50 % <span class="scorecard-muted">(1 of 2)</span>' in page
    assert "MCID 9 points" in page
    assert "no published MCID" in page
    assert "67 %" in page
    for referral in dana_referrals:
        assert referral.patient_last_name not in page


@pytest.mark.parametrize(
    ("months", "since"), [(12, YEAR_AGO), (3, datetime.date(2026, 3, 15)), (99, YEAR_AGO)]
)
def test_the_period_is_chosen_by_months(client, login, summit_admin, months, since):
    login(summit_admin)

    response = client.get(reverse("outcomes:scorecards"), {"months": months})

    assert response.context["card"].since == since


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (datetime.date(2026, 6, 15), 12, datetime.date(2025, 6, 15)),
        (datetime.date(2026, 3, 31), 1, datetime.date(2026, 2, 28)),
        (datetime.date(2024, 5, 31), 3, datetime.date(2024, 2, 29)),
        (datetime.date(2026, 1, 10), 24, datetime.date(2024, 1, 10)),
    ],
)
def test_months_before(day, months, expected):
    assert months_before(day, months) == expected


def test_a_location_scorecard_counts_that_clinics_referrals(
    client, login, summit, summit_admin, dana_referrals
):
    other_clinic = ClinicFactory(organization=summit, name="Summit North")
    login(summit_admin)

    everywhere = client.get(reverse("outcomes:organization_scorecard"))
    north = client.get(reverse("outcomes:organization_scorecard"), {"clinic": other_clinic.pk})
    unknown = client.get(reverse("outcomes:organization_scorecard"), {"clinic": "nope"})

    assert everywhere.context["card"].received == 3
    assert north.context["card"].received == 0
    assert unknown.context["card"].received == 3
    assert "Summit North" in north.content.decode()


@pytest.mark.parametrize(("role", "shown"), [(Role.LIAISON, True), (Role.FRONT_DESK, False)])
def test_a_physicians_page_links_to_their_scorecard(
    client, login, summit, member_factory, physician, role, shown
):
    login(member_factory(summit, role))

    page = client.get(reverse("physicians:detail", args=[physician.pk])).content.decode()

    assert (reverse("outcomes:physician_scorecard", args=[physician.pk]) in page) is shown


def add_referrals(physician, clinic, count):
    """`count` discharged referrals with visits, two instruments' scores and an NPS each, in bulk."""
    referrals = ReferralFactory.create_batch(
        count,
        organization=physician.organization,
        clinic=clinic,
        physician=physician,
        status=Status.DISCHARGED,
        received_at=NOW - datetime.timedelta(days=60),
        visits_attended=6,
    )
    Visit.objects.bulk_create(
        Visit(
            organization=clinic.organization,
            referral=referral,
            clinic=clinic,
            service_date=datetime.date(2026, 4, 20),
        )
        for referral in referrals
    )
    OutcomeScore.objects.bulk_create(
        OutcomeScore(
            organization=clinic.organization,
            referral=referral,
            instrument=instrument,
            phase=phase,
            score=Decimal(score),
            taken_on=datetime.date(2026, 5, 1),
        )
        for referral in referrals
        for instrument, phase, score in (
            ("lefs", Phase.INTAKE, 30),
            ("lefs", Phase.DISCHARGE, 45),
            ("koos_jr", Phase.INTAKE, 40),
            ("koos_jr", Phase.PROGRESS, 55),
        )
    )
    NpsResponse.objects.bulk_create(
        NpsResponse(
            organization=clinic.organization,
            referral=referral,
            score=9,
            answered_on=datetime.date(2026, 6, 1),
        )
        for referral in referrals
    )


@pytest.mark.parametrize(
    "url_name", ["outcomes:physician_scorecard", "outcomes:organization_scorecard", "outcomes:scorecards"]
)
def test_scorecard_pages_run_the_same_queries_for_1_and_200_referrals(
    client, login, summit, summit_clinic, summit_admin, url_name
):
    login(summit_admin)
    physician = PhysicianFactory(organization=summit)
    kwargs = {"physician_id": physician.pk} if url_name == "outcomes:physician_scorecard" else {}
    add_referrals(physician, summit_clinic, 1)
    url = reverse(url_name, kwargs=kwargs)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    add_referrals(physician, summit_clinic, 199)
    add_referrals(PhysicianFactory(organization=summit), summit_clinic, 20)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)

    assert response.context["card"].received >= 200
    assert len(many) == len(one), [query["sql"] for query in many.captured_queries]
