"""The patient's NPS: typed by staff, or answered once through a signed, expiring link that opens one page."""

import datetime
import re

import pytest
import time_machine
from django.core import signing
from django.urls import reverse

from clinics.models import Role
from outbox.models import OutboundEmail
from outcomes.models import NpsResponse, NpsSurvey
from outcomes.services import (
    SURVEY_SALT,
    NpsEntry,
    SurveyAlreadyAnswered,
    nps_record,
    nps_survey_answer,
    nps_survey_email,
    nps_survey_link,
)
from referrals.models import Status

from ..factories import ReferralFactory

NOW = datetime.datetime(2026, 4, 20, 16, 0, tzinfo=datetime.UTC)
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
        status=Status.DISCHARGED,
        patient_first_name="Marguerite",
        patient_last_name="Okonkwo-Lindqvist",
        patient_email="marguerite@example.org",
        received_at=NOW - datetime.timedelta(days=60),
    )


@pytest.fixture
def token(therapist, referral):
    return nps_survey_link(acting=therapist, referral=referral)


def survey_url(token):
    return reverse("outcomes:survey", kwargs={"token": token})


def test_staff_type_the_answer_once(client, login, therapist, referral):
    login(therapist)
    url = reverse("outcomes:nps_create", args=[referral.pk])

    first = client.post(url, {"score": "10", "comment": "Kind people.", "answered_on": "2026-04-20"})
    second = client.post(url, {"score": "3", "answered_on": "2026-04-20"})

    assert first.status_code == 302
    assert "already answered" in second.content.decode()
    answer = NpsResponse.objects.get()
    assert (answer.score, answer.comment, answer.answered_by_patient, answer.recorded_by) == (
        10,
        "Kind people.",
        False,
        therapist.user,
    )


@pytest.mark.parametrize("score", ["11", "-1", "nine", ""])
def test_a_score_outside_zero_to_ten_is_refused(client, login, therapist, referral, score):
    login(therapist)

    response = client.post(
        reverse("outcomes:nps_create", args=[referral.pk]), {"score": score, "answered_on": "2026-04-20"}
    )

    assert response.status_code == 200
    assert not NpsResponse.objects.exists()


def test_the_link_carries_only_the_surveys_id(token, referral):
    assert signing.loads(token, salt=SURVEY_SALT) == NpsSurvey.objects.get().pk
    url = survey_url(token).lower()
    for personal in ("marguerite", "okonkwo", "example", "1970"):
        assert personal not in url


def test_the_staff_page_shows_the_link_to_copy(client, login, therapist, referral):
    login(therapist)

    response = client.post(reverse("outcomes:survey_link", args=[referral.pk]))

    assert response.status_code == 200
    assert re.search(r"/outcomes/survey/[^\"/]+/", response.content.decode())


def test_the_patient_answers_without_signing_in_and_sees_nothing_of_the_referral(client, token, referral):
    with time_machine.travel(NOW + datetime.timedelta(days=2), tick=False):
        page = client.get(survey_url(token))
        answered = client.post(survey_url(token), {"score": "9", "comment": "Back to gardening."})

    assert page.status_code == 200
    text = page.content.decode()
    assert "Summit Physical Therapy" in text
    assert "How likely are you to recommend us to a friend or colleague?" in text
    for personal in ("Marguerite", "Okonkwo", "marguerite@example.org", f"#{referral.number}"):
        assert personal not in text
    assert answered.status_code == 200
    assert "Thank you" in answered.content.decode()
    answer = NpsResponse.objects.get()
    assert (answer.score, answer.comment, answer.answered_by_patient, answer.answered_on) == (
        9,
        "Back to gardening.",
        True,
        datetime.date(2026, 4, 22),
    )
    # The link opened one question: the patient is no one's signed-in session.
    assert client.get(reverse("referrals:detail", args=[referral.pk])).status_code == 302


def test_the_link_answers_once(client, token):
    client.post(survey_url(token), {"score": "9"})

    again = client.get(survey_url(token))
    posted_again = client.post(survey_url(token), {"score": "0"})

    assert again.status_code == posted_again.status_code == 410
    assert "Thank you, we have your answer" in again.content.decode()
    assert NpsResponse.objects.get().score == 9


def test_two_answers_at_once_record_one(token):
    nps_survey_answer(token=token, entry=NpsEntry(score=8))

    with pytest.raises(SurveyAlreadyAnswered):
        nps_survey_answer(token=token, entry=NpsEntry(score=2))
    assert NpsResponse.objects.count() == 1


def test_an_answer_typed_by_staff_closes_the_link(client, therapist, referral, token):
    nps_record(acting=therapist, referral=referral, entry=NpsEntry(score=7), answered_on=NOW.date())

    response = client.post(survey_url(token), {"score": "10"})

    assert response.status_code == 410
    assert NpsResponse.objects.get().score == 7


def test_a_new_link_answers_the_same_survey(therapist, referral, token):
    with time_machine.travel(NOW + datetime.timedelta(days=5), tick=False):
        second = nps_survey_link(acting=therapist, referral=referral)

    nps_survey_answer(token=second, entry=NpsEntry(score=10))

    assert NpsSurvey.objects.count() == 1
    with pytest.raises(SurveyAlreadyAnswered):
        nps_survey_answer(token=token, entry=NpsEntry(score=1))


@pytest.mark.parametrize(("days", "status"), [(29, 200), (30, 200), (31, 410)])
def test_the_link_expires_after_thirty_days(client, token, days, status):
    with time_machine.travel(NOW + datetime.timedelta(days=days, hours=-1), tick=False):
        response = client.get(survey_url(token))

    assert response.status_code == status
    if status == 410:
        assert "This link has expired" in response.content.decode()


def test_an_expired_link_cannot_be_answered(client, token):
    with time_machine.travel(NOW + datetime.timedelta(days=31), tick=False):
        response = client.post(survey_url(token), {"score": "10"})

    assert response.status_code == 410
    assert not NpsResponse.objects.exists()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
        lambda token: signing.dumps(NpsSurvey.objects.get().pk + 1, salt=SURVEY_SALT),
        lambda token: signing.dumps(NpsSurvey.objects.get().pk, salt="another.purpose"),
        lambda token: signing.dumps("1 OR 1=1", salt=SURVEY_SALT),
        lambda token: "not-a-token",
    ],
    ids=["edited", "another id", "another salt", "not an id", "garbage"],
)
def test_a_tampered_link_is_a_clear_page_not_an_error(client, token, tamper):
    response = client.post(survey_url(tamper(token)), {"score": "10"})

    assert response.status_code == 404
    assert "This link does not work" in response.content.decode()
    assert not NpsResponse.objects.exists()


def test_the_survey_email_names_neither_the_patient_nor_the_care(
    therapist, referral, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        email = nps_survey_email(acting=therapist, referral=referral)
        again = nps_survey_email(acting=therapist, referral=referral)

    assert email.pk == again.pk
    assert OutboundEmail.objects.count() == 1
    assert email.to_address == "marguerite@example.org"
    assert email.confidential
    assert email.subject == "How likely are you to recommend Summit Physical Therapy?"
    for personal in ("Marguerite", "Okonkwo"):
        assert personal not in email.body_text
        assert personal not in email.body_html
    assert "/outcomes/survey/" in email.body_text


def test_no_link_once_the_patient_has_answered(client, login, therapist, referral):
    nps_record(acting=therapist, referral=referral, entry=NpsEntry(score=7), answered_on=NOW.date())
    login(therapist)

    response = client.post(reverse("outcomes:survey_link", args=[referral.pk]), follow=True)

    assert "The patient has already answered" in response.content.decode()
