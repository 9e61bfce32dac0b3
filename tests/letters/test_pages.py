"""The letters' pages and panels: what each shows, to whom, in how many queries, in one organization."""

import datetime

import pytest
import time_machine
from django.urls import reverse

from clinics.models import Role
from letters.models import LetterStatus
from letters.services import letters_compose_due
from outcomes.models import NoteKind
from physicians.models import UpdateChannel, UpdateRhythm
from referrals.models import Status

from ..factories import ClinicFactory, PhysicianFactory, ReferralFactory
from .factories import LetterFactory
from .records import move, note

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 20, 16, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def test_a_referrals_page_shows_its_letters_and_their_delivery(
    client, login, summit, rules, therapist, make_physician, make_referral
):
    physician = make_physician(rhythm=UpdateRhythm.EVERY_PROGRESS_NOTE, channel=UpdateChannel.FAX)
    referral = make_referral(physician)
    note(referral)
    note(referral, NoteKind.PROGRESS)
    letters_compose_due(organization=summit)
    login(therapist)

    response = client.get(reverse("referrals:detail", args=[referral.pk]))

    panel = next(
        panel for panel in response.context["panels"] if panel.template == "letters/_referral_letters.html"
    )
    assert [letter.kind for letter in panel.context["letters"]] == ["evaluation", "progress"]
    assert f"Letters to {physician.display_name}".encode() in response.content
    assert b"To send" in response.content


def test_a_physicians_page_lists_the_letters_they_were_sent(
    client, login, summit, rules, member_factory, make_physician, make_referral
):
    physician = make_physician()
    note(make_referral(physician))
    letters_compose_due(organization=summit)
    login(member_factory(summit, Role.LIAISON))

    response = client.get(reverse("physicians:detail", args=[physician.pk]))

    assert b"Letters sent" in response.content
    assert b"Evaluation and plan" in response.content
    history = client.get(reverse("letters:list") + f"?physician={physician.pk}")
    assert history.context["page"].paginator.count == 1


def test_loop_not_closed_lists_patients_whose_physician_has_not_heard_by_their_rhythm(
    client, login, summit, rules, summit_admin, make_physician, make_referral
):
    ten_days_ago = NOW - datetime.timedelta(days=10)
    waits_for_review = make_referral(make_physician(), last_name="Review")
    move(waits_for_review, Status.EVALUATED, ten_days_ago)
    LetterFactory(organization=summit, referral=waits_for_review, status=LetterStatus.REVIEW)
    heard = make_referral(make_physician(), last_name="Heard")
    move(heard, Status.EVALUATED, ten_days_ago)
    LetterFactory(organization=summit, referral=heard, status=LetterStatus.SENT)
    recent = make_referral(make_physician(), last_name="Recent")
    move(recent, Status.EVALUATED, NOW - datetime.timedelta(days=3))
    asked_for_none = make_referral(make_physician(rhythm=UpdateRhythm.NO_UPDATES), last_name="None")
    move(asked_for_none, Status.EVALUATED, ten_days_ago)
    # At discharge only: in care is no open loop; discharged ten days ago without a summary is.
    discharge_only = make_physician(rhythm=UpdateRhythm.AT_DISCHARGE)
    in_care = make_referral(discharge_only, last_name="InCare")
    move(in_care, Status.EVALUATED, ten_days_ago)
    discharged = make_referral(discharge_only, last_name="Discharged")
    move(discharged, Status.EVALUATED, NOW - datetime.timedelta(days=40))
    move(discharged, Status.DISCHARGED, ten_days_ago)
    login(summit_admin)

    rows = list(client.get(reverse("letters:loop")).context["page"])

    assert [(row.patient_last_name, row.loop_reason, row.waiting_letter) for row in rows] == [
        ("Discharged", "discharge", None),
        ("Review", "evaluation", LetterStatus.REVIEW),
    ]


def test_the_organizations_days_decide_when_a_loop_is_open(summit, rules, make_physician, make_referral):
    from letters.selectors import loop_not_closed

    referral = make_referral(make_physician())
    move(referral, Status.EVALUATED, NOW - datetime.timedelta(days=4))

    assert not loop_not_closed(organization=summit, rules=rules).exists()
    rules.loop_days = 3
    assert list(loop_not_closed(organization=summit, rules=rules)) == [referral]


@pytest.mark.parametrize("url_name", ["letters:list", "letters:review", "letters:to_send", "letters:loop"])
def test_the_lists_cost_the_same_for_one_referral_as_for_two_hundred(
    client,
    login,
    summit,
    rules,
    summit_admin,
    make_physician,
    make_referral,
    url_name,
    django_assert_max_num_queries,
):
    def letters(count):
        """`count` referrals evaluated ten days ago, each with one letter to review and one to send."""
        for _ in range(count):
            referral = make_referral(make_physician())
            move(referral, Status.EVALUATED, NOW - datetime.timedelta(days=10))
            LetterFactory(organization=summit, referral=referral, status=LetterStatus.REVIEW)
            LetterFactory(
                organization=summit, referral=referral, kind="progress", status=LetterStatus.TO_SEND
            )
        # A patient unheard of: in the loop-not-closed list.
        unheard = make_referral(make_physician())
        move(unheard, Status.EVALUATED, NOW - datetime.timedelta(days=10))

    login(summit_admin)
    letters(1)
    with django_assert_max_num_queries(12) as one:
        assert client.get(reverse(url_name)).status_code == 200
    letters(199)
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(reverse(url_name))
    assert response.context["page"].paginator.count >= 200


def test_a_letters_page_costs_the_same_however_often_it_was_opened(
    client, login, summit, summit_admin, make_physician, make_referral, django_assert_max_num_queries
):
    from letters.models import LetterOpening

    letter = LetterFactory(organization=summit, referral=make_referral(make_physician()))
    login(summit_admin)
    url = reverse("letters:detail", args=[letter.pk])
    with django_assert_max_num_queries(12) as one:
        client.get(url)
    LetterOpening.objects.bulk_create(LetterOpening(organization=summit, letter=letter) for _ in range(50))
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert client.get(url).status_code == 200


def test_no_list_shows_another_organizations_letters(client, login, summit, harbor, harbor_admin, rules):
    harbor_referral = ReferralFactory(
        organization=harbor,
        clinic=ClinicFactory(organization=harbor),
        physician=PhysicianFactory(organization=harbor),
    )
    move(harbor_referral, Status.EVALUATED, NOW - datetime.timedelta(days=10))
    summit_letter = LetterFactory(organization=summit, status=LetterStatus.REVIEW)
    move(summit_letter.referral, Status.EVALUATED, NOW - datetime.timedelta(days=10))
    login(harbor_admin)

    for name in ("letters:list", "letters:review", "letters:to_send"):
        assert client.get(reverse(name)).context["page"].paginator.count == 0, name
    assert [row.pk for row in client.get(reverse("letters:loop")).context["page"]] == [harbor_referral.pk]
    assert client.get(reverse("letters:detail", args=[summit_letter.pk])).status_code == 404
    assert client.get(reverse("letters:print", args=[summit_letter.pk])).status_code == 404


def test_liaisons_see_the_history_but_not_the_review_or_print_queues(client, login, summit, member_factory):
    login(member_factory(summit, Role.LIAISON))

    assert client.get(reverse("letters:list")).status_code == 200
    assert client.get(reverse("letters:loop")).status_code == 200
    assert client.get(reverse("letters:review")).status_code == 403
    assert client.get(reverse("letters:to_send")).status_code == 403


def test_the_settings_page_switches_review_before_sending_on(client, login, summit, summit_admin, rules):
    from letters.selectors import letter_settings_get

    login(summit_admin)
    page = client.get(reverse("clinics:organization_settings"))
    data = {
        key: value
        for form in [f for _, f in page.context["sections"]]
        for key, value in {
            **{
                form.add_prefix(name): field.initial if not callable(field.initial) else None
                for name, field in form.fields.items()
            },
            **{form.add_prefix(name): value for name, value in form.initial.items()},
        }.items()
        if value is not None and value is not False
    }
    data.update(
        {"letters-review_before_sending": "on", "letters-loop_days": "5", "letters-link_valid_days": "14"}
    )

    response = client.post(reverse("clinics:organization_settings"), data)

    assert response.status_code == 302, response.context and [
        f.errors for _, f in response.context["sections"]
    ]
    rules = letter_settings_get(organization=summit)
    assert (rules.review_before_sending, rules.loop_days, rules.link_valid_days) == (True, 5, 14)
