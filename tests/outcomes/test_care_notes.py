"""The quick form: a note with the scores of its phase, at discharge the NPS, and the referral's move."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from clinics.models import Role
from outcomes.models import CareNote, NoteKind, NpsResponse, OutcomeScore, Phase
from outcomes.services import CareNoteFields, care_note_record
from referrals.models import Status, StatusChange

from ..factories import ReferralFactory
from .factories import CareNoteFactory, OutcomeScoreFactory

NOW = datetime.datetime(2026, 3, 10, 17, 0, tzinfo=datetime.UTC)
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_clock")]


@pytest.fixture
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def therapist(summit, member_factory):
    return member_factory(summit, Role.THERAPIST)


@pytest.fixture
def referral(summit, summit_clinic):
    return ReferralFactory(
        organization=summit,
        clinic=summit_clinic,
        status=Status.SCHEDULED,
        received_at=NOW - datetime.timedelta(days=9),
    )


def note_url(referral, kind):
    return f"{reverse('outcomes:care_note_create', args=[referral.pk])}?kind={kind}"


def note_form(**fields):
    return {"noted_on": "2026-03-10", "findings": "Knee flexion 95°, quadriceps lag.", "plan": "", **fields}


def test_an_evaluation_records_intake_scores_and_marks_the_referral_evaluated(
    client, login, therapist, referral
):
    login(therapist)

    response = client.post(
        note_url(referral, "evaluation"),
        note_form(
            therapist=therapist.user.pk,
            plan="Twice a week, six weeks.",
            score_lefs="38",
            score_nprs="6",
            move_referral="on",
        ),
    )

    assert response.status_code == 302
    note = CareNote.objects.get(referral=referral)
    assert (note.kind, note.noted_on, note.therapist, note.plan) == (
        NoteKind.EVALUATION,
        datetime.date(2026, 3, 10),
        therapist.user,
        "Twice a week, six weeks.",
    )
    scores = {row.instrument: (row.phase, row.score, row.care_note_id) for row in OutcomeScore.objects.all()}
    assert scores == {
        "lefs": (Phase.INTAKE, Decimal(38), note.pk),
        "nprs": (Phase.INTAKE, Decimal(6), note.pk),
    }
    referral.refresh_from_db()
    assert referral.status == Status.EVALUATED
    assert StatusChange.objects.filter(
        referral=referral, to_status=Status.EVALUATED, changed_by=therapist.user
    )


def test_the_referral_is_moved_only_when_asked(client, login, therapist, referral):
    login(therapist)

    client.post(note_url(referral, "evaluation"), note_form(score_lefs="38"))

    referral.refresh_from_db()
    assert referral.status == Status.SCHEDULED
    assert CareNote.objects.filter(referral=referral).exists()


def test_a_score_out_of_range_is_refused_in_words_and_nothing_is_saved(client, login, therapist, referral):
    login(therapist)

    response = client.post(note_url(referral, "evaluation"), note_form(score_lefs="95", score_ndi="12"))

    assert response.status_code == 200
    assert "LEFS scores run from 0 to 80; 95 is outside that range." in response.content.decode()
    assert not CareNote.objects.exists()
    assert not OutcomeScore.objects.exists()


def test_quickdash_typed_item_by_item_is_scored_and_keeps_its_items(client, login, therapist, referral):
    login(therapist)
    items = {f"items_quickdash_{n}": answer for n, answer in enumerate([2, 3, 2, 3, 2, 3, 2, 3, 3, 3, 3], 1)}

    client.post(note_url(referral, "evaluation"), note_form(**items))

    score = OutcomeScore.objects.get()
    assert (score.instrument, score.score) == ("quickdash", Decimal("40.91"))
    assert score.items == [2, 3, 2, 3, 2, 3, 2, 3, 3, 3, 3]


def test_quickdash_with_two_items_blank_is_refused(client, login, therapist, referral):
    login(therapist)
    items = {f"items_quickdash_{n}": "2" for n in range(1, 10)}

    response = client.post(note_url(referral, "evaluation"), note_form(**items))

    assert "QuickDASH needs at least 10 of its 11 items answered; 9 are." in response.content.decode()
    assert not OutcomeScore.objects.exists()


def test_quickdash_total_and_items_together_are_refused(client, login, therapist, referral):
    login(therapist)
    items = {f"items_quickdash_{n}": "2" for n in range(1, 12)}

    response = client.post(note_url(referral, "evaluation"), note_form(score_quickdash="25", **items))

    assert "Type the QuickDASH total or its items, not both." in response.content.decode()


def test_a_discharge_records_scores_nps_and_marks_discharged(client, login, therapist, referral):
    referral.status = Status.IN_CARE
    referral.save()
    OutcomeScoreFactory(organization=referral.organization, referral=referral, score=Decimal(38))
    login(therapist)

    client.post(
        note_url(referral, "discharge"),
        note_form(score_lefs="60", nps_score="9", nps_comment="Back to hiking.", move_referral="on"),
    )

    assert OutcomeScore.objects.get(phase=Phase.DISCHARGE).score == Decimal(60)
    answer = NpsResponse.objects.get(referral=referral)
    assert (answer.score, answer.comment, answer.answered_by_patient) == (9, "Back to hiking.", False)
    referral.refresh_from_db()
    assert referral.status == Status.DISCHARGED
    page = client.get(reverse("referrals:detail", args=[referral.pk])).content.decode()
    assert "Improved 22 points, more than the 9-point change patients notice" in page


def test_progress_and_discharge_forms_put_the_intake_measures_first(client, login, therapist, referral):
    OutcomeScoreFactory(organization=referral.organization, referral=referral, instrument="odi", score=44)
    login(therapist)

    response = client.get(note_url(referral, "progress"))

    assert [field.name for field, _ in response.context["score_rows"]] == ["score_odi"]
    assert "Intake 44 on Mar 2" in response.content.decode()
    assert "score_lefs" in [field.name for field, _ in response.context["other_rows"]]


def test_a_second_evaluation_or_a_second_intake_score_is_refused(client, login, therapist, referral):
    CareNoteFactory(organization=referral.organization, referral=referral, noted_on=datetime.date(2026, 3, 2))
    login(therapist)

    response = client.post(note_url(referral, "evaluation"), note_form())

    assert "This referral already has its evaluation note, of Mar 2, 2026." in response.content.decode()
    OutcomeScoreFactory(organization=referral.organization, referral=referral, phase=Phase.DISCHARGE)
    response = client.post(note_url(referral, "discharge"), note_form(score_lefs="50"))
    assert "This referral already has its discharge LEFS score." in response.content.decode()
    assert CareNote.objects.count() == 1


def test_a_note_cannot_be_dated_before_the_referral_or_in_the_future(client, login, therapist, referral):
    login(therapist)

    before = client.post(note_url(referral, "evaluation"), note_form(noted_on="2026-02-20"))
    future = client.post(note_url(referral, "evaluation"), note_form(noted_on="2026-03-12"))

    assert "The note cannot be dated before the referral was received." in before.content.decode()
    assert "The date cannot be in the future." in future.content.decode()
    assert not CareNote.objects.exists()


def test_the_service_refuses_the_front_desk(summit_front_desk, referral):
    with pytest.raises(PermissionDenied):
        care_note_record(
            acting=summit_front_desk,
            referral=referral,
            note=CareNoteFields(kind=NoteKind.PROGRESS, noted_on=timezone.localdate(), findings="x"),
        )


def test_a_therapist_of_another_organization_cannot_sign_the_note(summit_admin, harbor_admin, referral):
    with pytest.raises(Exception, match="Choose one of your organization's therapists"):
        care_note_record(
            acting=summit_admin,
            referral=referral,
            note=CareNoteFields(
                kind=NoteKind.PROGRESS,
                noted_on=datetime.date(2026, 3, 9),
                therapist=harbor_admin.user,
                findings="x",
            ),
        )


def test_a_score_removed_by_mistake(client, login, therapist, referral):
    score = OutcomeScoreFactory(organization=referral.organization, referral=referral)
    login(therapist)

    response = client.post(reverse("outcomes:score_remove", args=[score.pk]))

    assert response.status_code == 302
    assert not OutcomeScore.objects.exists()


@pytest.mark.parametrize(("role", "sees_findings"), [(Role.THERAPIST, True), (Role.FRONT_DESK, False)])
def test_the_referral_page_shows_notes_to_all_and_their_text_to_those_who_treat(
    client, login, summit, member_factory, referral, role, sees_findings
):
    CareNoteFactory(organization=summit, referral=referral, findings="Antalgic gait on the left.")
    OutcomeScoreFactory(organization=summit, referral=referral)
    login(member_factory(summit, role))

    page = client.get(reverse("referrals:detail", args=[referral.pk])).content.decode()

    assert "Care and outcomes" in page
    assert "Evaluation" in page
    assert ("Antalgic gait on the left." in page) is sees_findings
    assert ("Record the evaluation" in page) is False
    assert ("Progress note" in page) is sees_findings


@pytest.mark.parametrize("count", [1, 20])
def test_the_referral_page_reads_outcomes_in_constant_queries(
    client, login, summit, therapist, referral, count, django_assert_max_num_queries
):
    for day in range(count):
        CareNoteFactory(
            organization=summit, referral=referral, kind=NoteKind.PROGRESS, therapist=therapist.user
        )
        OutcomeScoreFactory(
            organization=summit,
            referral=referral,
            phase=Phase.PROGRESS,
            taken_on=datetime.date(2026, 3, 2) + datetime.timedelta(days=day % 7),
        )
    login(therapist)

    with django_assert_max_num_queries(40) as captured:
        client.get(reverse("referrals:detail", args=[referral.pk]))

    outcome_queries = [q for q in captured.captured_queries if "outcomes_" in q["sql"]]
    # The panel's four, and the History's rows of the scores.
    assert len(outcome_queries) == 5
