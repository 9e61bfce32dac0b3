"""A scorecard printed from Chromium: one US Letter page, without the site's menus, every measure on it."""

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from clinics.models import Role
from outcomes.instruments import INSTRUMENTS
from outcomes.models import NpsResponse, OutcomeScore, Phase
from referrals.models import Status

from ..factories import TEST_PASSWORD, MembershipFactory, PhysicianFactory, ReferralFactory
from .conftest import sign_in

# The live server runs in another thread, so the data must be committed.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PDF_PAGE = re.compile(rb"/Type\s*/Page(?!s)")


@pytest.fixture
def physician_with_every_measure(summit, summit_clinic):
    """The longest scorecard there is: a patient for each of the ten measures, and an NPS answer each."""
    physician = PhysicianFactory(
        organization=summit,
        first_name="Alexandra",
        last_name="Montgomery-Castellanos",
        taxonomy_code="207XS0117X",
    )
    today = timezone.localdate()
    for measure in INSTRUMENTS:
        referral = ReferralFactory(
            organization=summit,
            clinic=summit_clinic,
            physician=physician,
            status=Status.DISCHARGED,
            received_at=timezone.now() - datetime.timedelta(days=50),
        )
        intake = measure.minimum + (measure.maximum - measure.minimum) / 4
        OutcomeScore.objects.bulk_create(
            OutcomeScore(
                organization=summit,
                referral=referral,
                instrument=measure.code,
                phase=phase,
                score=score.quantize(Decimal("0.01")),
                taken_on=today - datetime.timedelta(days=days),
            )
            for phase, score, days in ((Phase.INTAKE, intake, 40), (Phase.DISCHARGE, intake * 2, 5))
        )
        NpsResponse.objects.create(organization=summit, referral=referral, score=9, answered_on=today)
    return physician


@pytest.mark.parametrize("which", ["physician", "clinic"])
def test_a_scorecard_prints_on_one_letter_page(
    browser, live_server, summit, physician_with_every_measure, which, tmp_path
):
    liaison = MembershipFactory(organization=summit, role=Role.LIAISON)
    url = (
        reverse("outcomes:physician_scorecard", args=[physician_with_every_measure.pk])
        if which == "physician"
        else reverse("outcomes:organization_scorecard")
    )
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, live_server, liaison.user.username, TEST_PASSWORD)
    page.goto(f"{live_server.url}{url}")
    assert page.get_by_role("button", name="Print or save as PDF").is_visible()

    page.emulate_media(media="print")
    pdf = page.pdf(format="Letter", print_background=True, prefer_css_page_size=True)
    # What the page looks like on paper, to look at: the Letter page's width inside its margins.
    page.set_viewport_size({"width": 720, "height": 960})
    page.screenshot(path=str(tmp_path / f"scorecard-{which}-print.png"), full_page=True)

    assert len(PDF_PAGE.findall(pdf)) == 1
    assert not page.get_by_role("navigation", name="Main navigation").is_visible()
    assert not page.get_by_role("button", name="Print or save as PDF").is_visible()
    for measure in INSTRUMENTS:
        assert page.get_by_role("rowheader", name=re.compile(re.escape(measure.name))).first.is_visible()
    assert page.get_by_text("NPS +100").is_visible()
    context.close()
