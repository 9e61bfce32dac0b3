"""A letter printed from Chromium: one US Letter page with the letterhead, without the buttons."""

import datetime
import os
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from clinics.models import Role
from letters.models import Letter
from letters.selectors import letter_settings_get
from letters.services import letters_compose_due
from outcomes.models import NoteKind, NpsResponse, OutcomeScore, Phase
from physicians.models import UpdateChannel, UpdateRhythm

from ..factories import (
    TEST_PASSWORD,
    AffiliationFactory,
    ClinicFactory,
    MembershipFactory,
    PhysicianFactory,
    PracticeFactory,
    ReferralFactory,
)
from ..outcomes.factories import CareNoteFactory
from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PDF_PAGE = re.compile(rb"/Type\s*/Page(?!s)")
# Where to keep the pictures to look at (the test's own folder otherwise).
SHOTS = os.environ.get("RAPPORT_SCREENSHOTS")


@pytest.fixture
def discharge_letter(summit):
    """A discharge summary as long as they come: three measures, a long findings text, a rating, a fax."""
    rules = letter_settings_get(organization=summit)
    rules.letters_since = timezone.now() - datetime.timedelta(days=1)
    rules.save()
    clinic = ClinicFactory(
        organization=summit,
        name="Summit PT – Downtown",
        address_line1="1600 Champa St, Suite 300",
        city="Denver",
        state="CO",
        postal_code="80202",
        phone="(303) 555-0142",
    )
    practice = PracticeFactory(
        organization=summit,
        name="Front Range Orthopaedic and Sports Medicine Associates",
        fax="(303) 555-0272",
    )
    physician = PhysicianFactory(
        organization=summit,
        first_name="Alexandra",
        last_name="Montgomery-Castellanos",
        update_rhythm=UpdateRhythm.AT_DISCHARGE,
        update_channel=UpdateChannel.FAX,
    )
    AffiliationFactory(organization=summit, physician=physician, practice=practice)
    therapist = MembershipFactory(
        organization=summit, role=Role.THERAPIST, user__first_name="Dana", user__last_name="Reyes"
    )
    referral = ReferralFactory(
        organization=summit,
        clinic=clinic,
        physician=physician,
        therapist=therapist.user,
        patient_first_name="Maria",
        patient_last_name="Lopez-Hernandez",
        diagnosis_codes=["M17.11", "Z96.651"],
        visits_attended=14,
        received_at=timezone.now() - datetime.timedelta(days=60),
    )
    today = timezone.localdate()
    for instrument, intake, latest in (("lefs", 31, 58), ("nprs", 7, 2), ("koos_jr", 48, 71)):
        for phase, score, days in ((Phase.INTAKE, intake, 55), (Phase.DISCHARGE, latest, 0)):
            OutcomeScore.objects.create(
                organization=summit,
                referral=referral,
                instrument=instrument,
                phase=phase,
                score=Decimal(score),
                taken_on=today - datetime.timedelta(days=days),
            )
    NpsResponse.objects.create(organization=summit, referral=referral, score=10, answered_on=today)
    CareNoteFactory(
        organization=summit,
        referral=referral,
        kind=NoteKind.DISCHARGE,
        noted_on=today,
        therapist=therapist.user,
        findings=(
            "Right total knee arthroplasty, 8 weeks post-op. Knee flexion 0–122°, quadriceps 5/5, "
            "independent gait without an assistive device on level ground and stairs with a rail. "
            "Single-leg stance 20 s. Returned to gardening and 2-mile walks without pain above 2/10."
        ),
        plan=(
            "Discharged to a home exercise program: strength three times a week, daily walks. "
            "Follow up with you at 12 weeks post-op as planned; we would gladly see her again."
        ),
    )
    letters_compose_due(organization=summit)
    return Letter.objects.get(), MembershipFactory(organization=summit, role=Role.FRONT_DESK)


def test_a_printed_letter_fills_one_letter_page_with_the_letterhead(
    browser, live_server, discharge_letter, tmp_path
):
    letter, desk = discharge_letter
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, live_server, desk.user.username, TEST_PASSWORD)
    page.goto(f"{live_server.url}{reverse('letters:print', args=[letter.pk])}")
    assert page.get_by_role("button", name="Print").is_visible()

    page.emulate_media(media="print")
    pdf = page.pdf(format="Letter", print_background=True, prefer_css_page_size=True)
    folder = SHOTS or str(tmp_path)
    page.set_viewport_size({"width": 816, "height": 1056})  # the Letter page at 96 dpi
    page.screenshot(path=os.path.join(folder, "letter-print.png"), full_page=True)

    assert len(PDF_PAGE.findall(pdf)) == 1
    assert not page.get_by_role("button", name="Print").is_visible()
    assert page.get_by_text(letter.organization.name).first.is_visible()
    assert page.get_by_role("heading", name="Discharge summary").is_visible()
    for measure in ("LEFS", "NPRS", "KOOS JR"):
        assert page.get_by_role("cell", name=measure, exact=True).is_visible(), measure
    assert page.get_by_text("no published threshold").is_visible()
    assert page.get_by_text("10 out of 10").is_visible()
    assert page.get_by_text("Dana Reyes, treating therapist").is_visible()
    context.close()
