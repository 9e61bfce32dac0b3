"""Outcomes and experience by source: figures worked out by hand, drill-downs, roles, CSV, rollups, queries.

The scenario of conftest.py, with care recorded through the services:

| ref | physician | headline outcome | NPS | letter after the evaluation |
|-----|-----------|------------------|-----|-----------------------------|
| R1 | A | LEFS 40 → 60: +20 (25 % of 0–80), MCID 9: reached | 10 | seen Jun 6 16:00, sent Jun 8 15:00 |
| R2 | A | ODI 50 → 41: +9 (9 % of 0–100), MCID min(10, 30 % of 50): not reached | 6 | — |
| R3 | B | KOOS JR 40 → 52: +12 (12 %), no published MCID: no verdict | 9 | — |
| R7 | B | — (received Jun 15, evaluated Jun 17) | — | none: not closed |
| R6 | B | May: evaluated May 14, no letter | — | none: not closed |

June: 6 referrals, 3 measured, mean change (25 + 9 + 12) / 3 = 15.3 % of the
scale, MCID reached by 1 of the 2 with a verdict (50 %), NPS from 2 promoters,
0 passives and 1 detractor = (2 − 1) / 3 = +33, letters in time for 1 of the
2 evaluations owed one (50 %). May: 0 of 1 in time.
"""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analytics import selectors
from analytics.filters import DashboardFilters
from analytics.models import ReferralFact
from analytics.rollups import rollups_rebuild, rollups_verify
from letters.models import Letter
from letters.selectors import letter_settings_get
from letters.services import letter_approve, letter_mark_sent, letters_compose_due
from outcomes.models import NoteKind, OutcomeScore
from outcomes.services import (
    CareNoteFields,
    NpsEntry,
    ScoreEntry,
    care_note_record,
    nps_record,
    nps_survey_answer,
    nps_survey_link,
    outcome_score_remove,
)
from physicians.models import UpdateChannel
from referrals.models import Status
from referrals.services import ReferralDetails, referral_update, referrals_create_bulk

from ..factories import ReferralFactory
from ..outcomes.factories import NpsResponseFactory, OutcomeScoreFactory
from .conftest import NOW, PERIOD, _record, received
from .test_figures import JUNE, cells, headline

LETTER = "Letter within 7 days of the evaluation"


def at(month: int, day: int, hour: int) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


def note(world, referral, kind, day, scores=(), nps=None):
    return care_note_record(
        acting=world.admin,
        referral=referral,
        note=CareNoteFields(kind=kind, noted_on=day),
        scores=[ScoreEntry(instrument=code, score=Decimal(score)) for code, score in scores],
        nps=NpsEntry(score=nps) if nps is not None else None,
    )


@pytest.fixture
def care(world, clock):
    """The care of the table above, each write through its service at its own time."""
    org, r = world.organization, world.referrals
    C, S, E = Status.CONTACTED, Status.SCHEDULED, Status.EVALUATED
    (r7,) = referrals_create_bulk(
        organization=org,
        records=[
            _record(
                (world.clinic, world.admin.user),
                physician=world.physician_b,
                when=received(date(2026, 6, 15)),
                steps=[(C, 2, ""), (S, 24, ""), (E, 48, "")],
                appointment_after=48,
            )
        ],
    )
    # Letters switched on the day after R1's evaluation; its note recorded then, its letter sent the next day.
    clock.move_to(at(6, 7, 17))
    letter_settings_get(organization=org)
    clock.move_to(at(6, 7, 18))
    note(world, r["R1"], NoteKind.EVALUATION, date(2026, 6, 6), scores=[("lefs", 40)])
    clock.move_to(at(6, 7, 19))
    letters_compose_due(organization=org)
    clock.move_to(at(6, 8, 15))
    letter_mark_sent(acting=world.front_desk, letter=Letter.objects.get(organization=org))
    clock.move_to(NOW)
    note(world, r["R1"], NoteKind.DISCHARGE, date(2026, 6, 28), scores=[("lefs", 60)], nps=10)
    note(world, r["R2"], NoteKind.EVALUATION, date(2026, 6, 5), scores=[("odi", 50)])
    note(world, r["R2"], NoteKind.PROGRESS, date(2026, 6, 8), scores=[("odi", 41)])
    nps_record(acting=world.admin, referral=r["R2"], entry=NpsEntry(score=6), answered_on=date(2026, 6, 9))
    note(world, r["R3"], NoteKind.EVALUATION, date(2026, 6, 4), scores=[("koos_jr", 40)])
    note(world, r["R3"], NoteKind.PROGRESS, date(2026, 6, 20), scores=[("koos_jr", 52)])
    nps_record(acting=world.admin, referral=r["R3"], entry=NpsEntry(score=9), answered_on=date(2026, 6, 21))
    return r7


def june(world, **narrowing) -> DashboardFilters:
    return DashboardFilters(organization=world.organization, period=JUNE, today=NOW.date(), **narrowing)


def test_the_facts_hold_each_referrals_outcome_nps_and_letter(world, care):
    facts = {fact.referral_id: fact for fact in ReferralFact.objects.filter(organization=world.organization)}
    r1, r2, r3 = (facts[world.referrals[name].pk] for name in ("R1", "R2", "R3"))

    assert (r1.outcome_instrument, r1.outcome_improvement, r1.outcome_share_of_range) == (
        "lefs",
        Decimal(20),
        Decimal("25.0"),
    )
    assert (r1.outcome_mcid_reached, r1.nps_score, r1.letter_sent_at) == (True, 10, at(6, 8, 15))
    assert (r2.outcome_instrument, r2.outcome_improvement, r2.outcome_mcid_reached) == ("odi", 9, False)
    assert (r3.outcome_instrument, r3.outcome_share_of_range, r3.outcome_mcid_reached) == (
        "koos_jr",
        Decimal("12.0"),
        None,
    )
    assert facts[care.pk].letter_sent_at is None


def test_the_headlines_against_the_hand_computed_figures(world, care):
    data = selectors.outcomes(june(world))

    def pair(label):
        item = headline(data, label)
        return item.value, item.previous

    assert pair("Outcomes measured") == (3, 0)
    assert pair("Mean change (% of the scale)") == (15.3, None)
    assert pair("Reached the MCID") == (50.0, None)
    assert pair("NPS") == (33, None)
    assert pair("NPS answers") == (3, 0)
    assert pair(LETTER) == (50.0, 0.0)
    assert cells(data.table("nps_groups"), "This period") == {
        "Promoters (9–10)": 2,
        "Passives (7–8)": 0,
        "Detractors (0–6)": 1,
    }


def test_each_physician_and_measure(world, care):
    data = selectors.outcomes(june(world))
    physicians = data.table("outcome_physicians")
    a, b = world.physician_a.display_name, world.physician_b.display_name

    assert cells(physicians, "Referrals") == {a: 3, b: 3}
    assert cells(physicians, "Outcomes measured") == {a: 2, b: 1}
    assert cells(physicians, "Mean change (% of the scale)") == {a: 17.0, b: 12.0}
    assert cells(physicians, "Reached the MCID") == {a: 50.0, b: None}
    assert cells(physicians, "NPS") == {a: 0, b: 100}
    assert cells(physicians, "NPS answers") == {a: 2, b: 1}
    assert cells(physicians, LETTER) == {a: 100.0, b: 0.0}
    assert physicians.rows[0][4].text == "50 % (1 of 2)"

    measures = data.table("outcome_measures")
    assert cells(measures, "Patients") == {"LEFS": 1, "ODI": 1, "KOOS JR": 1}
    assert cells(measures, "Mean change (points)") == {"LEFS": 20.0, "ODI": 9.0, "KOOS JR": 12.0}
    assert cells(measures, "Reached the MCID") == {"LEFS": 100.0, "ODI": 0.0, "KOOS JR": None}
    assert measures.rows[2][5].text == "No verdict"


def test_specialty_and_clinic_narrow_the_figures(world, care):
    surgeons = selectors.outcomes(june(world, specialty=world.physician_a.taxonomy_code))

    assert headline(surgeons, "Outcomes measured").value == 2
    assert headline(surgeons, "NPS").value == 0
    assert cells(selectors.outcomes(june(world)).table("outcome_clinics"), "Outcomes measured") == {
        "Downtown": 3
    }


def listed(client, link) -> int:
    response = client.get(link)
    assert response.status_code == 200
    return response.context["page"].paginator.count


def test_every_figure_leads_to_the_referrals_that_make_it(world, care, admin_client):
    data = admin_client.get(reverse("analytics:outcomes"), PERIOD).context["data"]
    checked = 0
    for table in data.tables:
        for row in table.rows:
            for cell in row:
                if cell.link and isinstance(cell.value, int) and not isinstance(cell.value, bool):
                    assert listed(admin_client, cell.link) == cell.value, (table.key, cell)
                    checked += 1
    assert checked > 20
    # A share leads to the referrals of its part: "50 % (1 of 2)" lists the one.
    physicians = data.table("outcome_physicians")
    assert listed(admin_client, physicians.rows[0][4].link) == 1
    assert listed(admin_client, physicians.rows[0][7].link) == 1
    assert listed(admin_client, headline(data, "Reached the MCID").link) == 1
    assert listed(admin_client, headline(data, LETTER).link) == 1
    assert listed(admin_client, headline(data, "NPS answers").link) == 3
    missed = headline(data, LETTER).link.replace("loop=closed", "loop=open")
    assert listed(admin_client, missed) == 1
    words = admin_client.get(headline(data, "Reached the MCID").link).content.decode()
    assert "Outcome: Reached the MCID" in words


def test_a_therapist_sees_only_their_own_caseload(world, care, login, client_factory):
    r1 = world.referrals["R1"]
    referral_update(
        referral=r1,
        acting=world.admin,
        version=r1.version,
        details=ReferralDetails(
            **{name: getattr(r1, name) for name in ReferralDetails.names()}
            | {"therapist": world.therapist.user}
        ),
    )
    client = login(world.therapist, client_factory())

    assert client.get(reverse("analytics:index")).url.startswith(reverse("analytics:outcomes"))
    response = client.get(reverse("analytics:outcomes"), PERIOD)
    data = response.context["data"]
    assert headline(data, "Outcomes measured").value == 1
    assert headline(data, "NPS").value == 100
    assert [tab.key for tab in response.context["sections"]] == ["outcomes"]
    link = headline(data, "Outcomes measured").link
    assert f"therapist={world.therapist.user.pk}" in link
    assert listed(client, link) == 1
    assert client.get(reverse("analytics:pipeline"), PERIOD).status_code == 403


def test_another_organizations_outcomes_never_show(world, care, harbor_admin, login, client_factory):
    client = login(harbor_admin, client_factory())

    data = client.get(reverse("analytics:outcomes"), PERIOD).context["data"]

    assert headline(data, "Outcomes measured").value == 0
    assert data.table("outcome_physicians").rows == []
    # Summit's referrals listed by their figures' filters from Harbor: none.
    assert listed(client, f"{reverse('referrals:list')}?outcome=measured&nps=answered") == 0


def test_the_csv_export_is_formula_safe(world, care, admin_client):
    world.physician_a.last_name = "=HYPERLINK(1)"
    world.physician_a.save()

    response = admin_client.get(reverse("analytics:outcomes_export"), PERIOD)
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))

    assert response["Content-Disposition"] == 'attachment; filename="outcomes-2026-06-01-2026-06-30.csv"'
    assert not any(cell.startswith("=") for row in rows for cell in row)
    assert ["LEFS", "1", "20.0", "9 points", "1", "100.0"] in rows
    physician = next(row for row in rows if "HYPERLINK" in row[0])
    assert physician[1:] == ["3", "2", "17.0", "50.0", "0", "2", "100.0"]


def test_the_rollups_stay_in_step_with_every_write_to_care_and_letters(world, care):
    def in_step():
        check = rollups_verify(organization=world.organization, repair=False)
        assert check.clean, check

    in_step()
    score = OutcomeScore.objects.get(referral=world.referrals["R2"], phase="progress")
    outcome_score_remove(acting=world.admin, score=score)
    in_step()
    assert ReferralFact.objects.get(referral=world.referrals["R2"]).outcome_instrument == ""
    note(world, world.referrals["R4"], NoteKind.EVALUATION, date(2026, 6, 10), scores=[("nprs", 8)])
    note(world, world.referrals["R4"], NoteKind.PROGRESS, date(2026, 6, 20), scores=[("nprs", 5)])
    in_step()
    # NPRS 8 → 5: 3 points better, the MCID min(2, 30 % of 8 = 2.4) = 2: reached.
    assert ReferralFact.objects.get(referral=world.referrals["R4"]).outcome_mcid_reached is True


def test_query_counts_stay_flat_with_many_outcomes(world, care, admin_client, django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(reverse("analytics:outcomes"), PERIOD).status_code == 200
    org = world.organization
    for n in range(120):
        referral = ReferralFactory(
            organization=org,
            clinic=world.clinic,
            physician=[world.physician_a, world.physician_b][n % 2],
            received_at=NOW - timedelta(days=1 + n % 25),
        )
        OutcomeScoreFactory(organization=org, referral=referral, instrument="lefs", phase="intake", score=30)
        OutcomeScoreFactory(
            organization=org, referral=referral, instrument="lefs", phase="discharge", score=45
        )
        NpsResponseFactory(organization=org, referral=referral, score=n % 11, answered_on=NOW.date())
    rollups_rebuild(organization=org)

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get(reverse("analytics:outcomes"), PERIOD)
    assert headline(response.context["data"], "Outcomes measured").value == 123


def test_the_rollups_follow_a_patients_survey_answer_and_an_approved_letter(world, care):
    org, r4 = world.organization, world.referrals["R4"]
    token = nps_survey_link(acting=world.admin, referral=r4)
    nps_survey_answer(token=token, entry=NpsEntry(score=7))
    assert ReferralFact.objects.get(referral=r4).nps_score == 7

    world.physician_b.update_channel, world.physician_b.email = UpdateChannel.EMAIL, "baker@example.org"
    world.physician_b.save()
    rules = letter_settings_get(organization=org)
    rules.review_before_sending = True
    rules.save()
    note(world, care, NoteKind.EVALUATION, date(2026, 6, 17))
    letters_compose_due(organization=org)
    waiting = Letter.objects.get(organization=org, referral=care)
    assert ReferralFact.objects.get(referral=care).letter_sent_at is None
    letter_approve(acting=world.admin, letter=waiting)

    # Emailed now, June 30: thirteen days after the evaluation, so not in time.
    assert ReferralFact.objects.get(referral=care).letter_sent_at == NOW
    assert rollups_verify(organization=org, repair=False).clean
    data = selectors.outcomes(june(world))
    assert headline(data, LETTER).value == 50.0
    assert headline(data, "NPS answers").value == 4
