"""The batch reads outcome letters are composed from: per referral, one organization, flat query counts."""

import datetime
from decimal import Decimal

import pytest

from outcomes.models import NoteKind, Phase
from outcomes.selectors import (
    NpsAnswer,
    nps_summary,
    referral_care_notes,
    referral_nps,
    referral_outcome_changes,
)

from ..factories import ReferralFactory
from .factories import CareNoteFactory, NpsResponseFactory, OutcomeScoreFactory

D = Decimal
pytestmark = pytest.mark.django_db


def scores(referral, instrument, *rows):
    for phase, score, day in rows:
        OutcomeScoreFactory(
            organization=referral.organization,
            referral=referral,
            instrument=instrument,
            phase=phase,
            score=D(score),
            taken_on=datetime.date(2026, 3, day),
        )


def test_the_change_runs_from_intake_to_the_latest_later_score(summit):
    referral = ReferralFactory(organization=summit)
    scores(
        referral,
        "odi",
        (Phase.INTAKE, "44", 2),
        (Phase.PROGRESS, "30", 16),
        (Phase.DISCHARGE, "18", 30),
    )

    [change] = referral_outcome_changes(organization=summit, referral_ids=[referral.pk])[referral.pk]

    assert change.instrument_code == "odi"
    assert change.instrument_name == "ODI"
    assert (change.intake_score, change.intake_on) == (D(44), datetime.date(2026, 3, 2))
    assert (change.latest_score, change.latest_on, change.latest_phase) == (
        D(18),
        datetime.date(2026, 3, 30),
        Phase.DISCHARGE,
    )
    assert (change.change, change.improvement) == (D(-26), D(26))
    assert change.mcid == D(10)
    assert change.reached_mcid is True
    assert change.meaning == "improved 26 points, more than the 10-point change patients notice"


def test_a_discharge_on_the_day_of_a_progress_score_is_the_latest(summit):
    referral = ReferralFactory(organization=summit)
    scores(referral, "lefs", (Phase.INTAKE, "30", 2), (Phase.DISCHARGE, "60", 20), (Phase.PROGRESS, "50", 20))

    [change] = referral_outcome_changes(organization=summit, referral_ids=[referral.pk])[referral.pk]

    assert (change.latest_score, change.latest_phase) == (D(60), Phase.DISCHARGE)


def test_no_change_without_an_intake_score_or_without_a_later_one(summit):
    intake_only, later_only, both = ReferralFactory.create_batch(3, organization=summit)
    scores(intake_only, "lefs", (Phase.INTAKE, "30", 2))
    scores(later_only, "lefs", (Phase.PROGRESS, "50", 20))
    scores(both, "lefs", (Phase.INTAKE, "30", 2), (Phase.PROGRESS, "50", 20))
    scores(both, "nprs", (Phase.INTAKE, "7", 2))

    changes = referral_outcome_changes(
        organization=summit, referral_ids=[intake_only.pk, later_only.pk, both.pk]
    )

    assert list(changes) == [both.pk]
    assert [change.instrument_code for change in changes[both.pk]] == ["lefs"]


def test_changes_come_in_the_instruments_order_with_no_verdict_where_no_mcid(summit):
    referral = ReferralFactory(organization=summit)
    scores(referral, "koos_jr", (Phase.INTAKE, "45.5", 2), (Phase.DISCHARGE, "71.25", 30))
    scores(referral, "lefs", (Phase.INTAKE, "30", 2), (Phase.DISCHARGE, "36", 30))

    koos_and_lefs = referral_outcome_changes(organization=summit, referral_ids=[referral.pk])[referral.pk]

    assert [(c.instrument_code, c.mcid, c.reached_mcid) for c in koos_and_lefs] == [
        ("lefs", D(9), False),
        ("koos_jr", None, None),
    ]


def test_another_organizations_referrals_are_absent(summit, harbor):
    ours, theirs = ReferralFactory(organization=summit), ReferralFactory(organization=harbor)
    for referral in (ours, theirs):
        scores(referral, "lefs", (Phase.INTAKE, "30", 2), (Phase.DISCHARGE, "50", 30))
        NpsResponseFactory(organization=referral.organization, referral=referral)
        CareNoteFactory(organization=referral.organization, referral=referral)
    ids = [ours.pk, theirs.pk]

    assert list(referral_outcome_changes(organization=summit, referral_ids=ids)) == [ours.pk]
    assert list(referral_nps(organization=summit, referral_ids=ids)) == [ours.pk]
    assert list(referral_care_notes(organization=summit, referral_ids=ids)) == [ours.pk]


def test_nps_answer_of_each_referral(summit):
    referral = ReferralFactory(organization=summit)
    NpsResponseFactory(
        organization=summit,
        referral=referral,
        score=10,
        comment="The front desk remembered my name.",
        answered_by_patient=True,
    )

    assert referral_nps(organization=summit, referral_ids=[referral.pk]) == {
        referral.pk: NpsAnswer(
            score=10,
            comment="The front desk remembered my name.",
            answered_on=datetime.date(2026, 4, 20),
            answered_by_patient=True,
        )
    }


def test_care_notes_by_date_with_their_therapist(summit, summit_admin):
    referral = ReferralFactory(organization=summit)
    discharge = CareNoteFactory(
        organization=summit,
        referral=referral,
        kind=NoteKind.DISCHARGE,
        noted_on=datetime.date(2026, 4, 20),
        therapist=summit_admin.user,
    )
    evaluation = CareNoteFactory(organization=summit, referral=referral, noted_on=datetime.date(2026, 3, 2))

    notes = referral_care_notes(organization=summit, referral_ids=[referral.pk])

    assert notes == {referral.pk: [evaluation, discharge]}
    assert notes[referral.pk][1].therapist == summit_admin.user


@pytest.mark.parametrize("count", [1, 50])
def test_one_query_each_whatever_the_number_of_referrals(summit, django_assert_num_queries, count):
    referrals = ReferralFactory.create_batch(count, organization=summit)
    for referral in referrals:
        scores(referral, "lefs", (Phase.INTAKE, "30", 2), (Phase.DISCHARGE, "50", 30))
        scores(referral, "ndi", (Phase.INTAKE, "20", 2), (Phase.PROGRESS, "12", 16))
        NpsResponseFactory(organization=summit, referral=referral)
        CareNoteFactory(organization=summit, referral=referral, therapist=None)
        CareNoteFactory(organization=summit, referral=referral, kind=NoteKind.PROGRESS)
    ids = [referral.pk for referral in referrals]

    with django_assert_num_queries(3):
        changes = referral_outcome_changes(organization=summit, referral_ids=ids)
        answers = referral_nps(organization=summit, referral_ids=ids)
        notes = referral_care_notes(organization=summit, referral_ids=ids)
        names = {note.therapist and note.therapist.username for group in notes.values() for note in group}

    assert len(changes) == len(answers) == len(notes) == count
    assert names == {None}


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([], None),
        ([10, 9, 8, 7, 6], 20),
        ([10, 10, 10], 100),
        ([0, 3, 6], -100),
        ([7, 8], 0),
        # 1 promoter, 2 passives, 5 detractors: (1 − 5) / 8 = −50.
        ([9, 7, 8, 0, 1, 2, 5, 6], -50),
        # 1 promoter of 8 answers: 12.5, rounded half away from zero.
        ([9, 7, 7, 7, 7, 7, 7, 7], 13),
        ([0, 7, 7, 7, 7, 7, 7, 7], -13),
    ],
)
def test_nps_formula(scores, expected):
    summary = nps_summary(scores)

    assert summary.score == expected
    assert summary.answers == len(scores)
