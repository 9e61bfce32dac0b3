"""The sweep composes each due letter once, from the referral's record, and sends it as asked."""

import datetime

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from letters.models import Delivery, Letter, LetterKind, LetterReferral, LetterStatus
from letters.services import letters_compose_due
from outbox.models import OutboundEmail
from outcomes.models import NoteKind, Phase
from physicians.models import UpdateChannel, UpdateRhythm

from .factories import LetterFactory
from .records import lefs, note, nps

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 10, 16, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def test_an_evaluation_is_emailed_with_initials_and_a_link_never_the_patients_name(
    summit, rules, make_physician, make_referral, therapist
):
    physician = make_physician(email="dr.osei@example.org")
    referral = make_referral(physician)
    recorded = note(
        referral, therapist=therapist.user, findings="Quadriceps lag 10°.", plan="2x/week, 6 weeks."
    )

    result = letters_compose_due(organization=summit)

    letter = Letter.objects.get()
    assert (result.composed, result.emailed) == (1, 1)
    assert (letter.kind, letter.status, letter.delivery) == (
        LetterKind.EVALUATION,
        LetterStatus.EMAILED,
        Delivery.EMAIL,
    )
    assert (letter.findings, letter.plan) == (recorded.findings, recorded.plan)
    assert letter.signature_name == "Dana Reyes"
    assert letter.content["patient"]["name"] == "Maria Lopez"
    assert list(LetterReferral.objects.values_list("referral_id", flat=True)) == [referral.pk]
    email = letter.email
    assert email.to_address == "dr.osei@example.org"
    assert email.confidential
    assert email.idempotency_key == f"letter:{summit.pk}:evaluation:{referral.pk}"
    text = f"{email.subject}\n{email.body_text}\n{email.body_html}"
    assert "M. L." in email.body_text
    assert "referred on February 28, 2026" in email.body_text
    assert "Maria" not in text
    assert "Lopez" not in text
    assert "M. L." not in email.subject
    assert "/letters/read/" in email.body_text


def test_a_discharge_summary_tells_visits_the_change_and_what_it_means_and_the_rating(
    summit, rules, make_physician, make_referral, therapist
):
    physician = make_physician(rhythm=UpdateRhythm.AT_DISCHARGE)
    referral = make_referral(physician, visits_attended=9)
    lefs(referral, Phase.INTAKE, 38, datetime.date(2026, 2, 2))
    lefs(referral, Phase.DISCHARGE, 55, datetime.date(2026, 3, 10))
    nps(referral, 10, datetime.date(2026, 3, 10))
    note(referral, NoteKind.EVALUATION, therapist=therapist.user)

    assert letters_compose_due(organization=summit).composed == 0  # this physician hears at discharge only
    note(referral, NoteKind.DISCHARGE, therapist=therapist.user, findings="Walks without a limp.")
    letters_compose_due(organization=summit)

    letter = Letter.objects.get()
    assert letter.kind == LetterKind.DISCHARGE
    assert letter.content["patient"]["visits"] == 9
    [lefs_change] = letter.content["outcomes"]
    assert (lefs_change["intake_score"], lefs_change["latest_score"], lefs_change["change"]) == (
        "38",
        "55",
        "17",
    )
    assert lefs_change["reached_mcid"] is True
    assert lefs_change["meaning"]
    assert letter.content["nps"]["score"] == 10


@pytest.mark.parametrize(
    "channel", [UpdateChannel.FAX, UpdateChannel.MAIL, UpdateChannel.PORTAL, UpdateChannel.PHONE]
)
def test_every_other_channel_puts_the_letter_in_the_print_queue(
    summit, rules, make_physician, make_referral, channel
):
    note(make_referral(make_physician(channel=channel)))

    letters_compose_due(organization=summit)

    letter = Letter.objects.get()
    assert (letter.status, letter.delivery, letter.channel, letter.print_reason) == (
        LetterStatus.TO_SEND,
        Delivery.PRINT,
        channel,
        "",
    )
    assert not OutboundEmail.objects.exists()


def test_email_without_an_address_falls_back_to_the_print_queue_and_says_why(
    summit, rules, make_physician, make_referral
):
    physician = make_physician(email="")
    note(make_referral(physician))

    letters_compose_due(organization=summit)

    letter = Letter.objects.get()
    assert (letter.status, letter.delivery) == (LetterStatus.TO_SEND, Delivery.PRINT)
    assert "has no email address on file" in letter.print_reason
    assert physician.display_name in letter.print_reason


def test_a_second_run_composes_and_emails_nothing_more(summit, rules, make_physician, make_referral):
    for rhythm in (UpdateRhythm.AFTER_EVALUATION, UpdateRhythm.EVERY_PROGRESS_NOTE):
        referral = make_referral(make_physician(rhythm=rhythm))
        note(referral)
        note(referral, NoteKind.PROGRESS)

    first = letters_compose_due(organization=summit)
    again = letters_compose_due(organization=summit)

    assert (first.composed, again.composed) == (3, 0)
    assert Letter.objects.count() == 3
    assert OutboundEmail.objects.count() == 3


def test_the_database_refuses_a_second_letter_with_the_same_key(summit, rules, make_physician, make_referral):
    referral = make_referral(make_physician())
    LetterFactory(organization=summit, referral=referral)

    with pytest.raises(IntegrityError), transaction.atomic():
        LetterFactory(organization=summit, referral=referral)


def test_nothing_is_written_for_physicians_who_asked_for_none_nor_for_other_sources(
    summit, rules, make_physician, make_referral
):
    note(make_referral(make_physician(rhythm=UpdateRhythm.NO_UPDATES)))

    assert letters_compose_due(organization=summit).composed == 0


def test_history_from_before_letters_were_switched_on_is_never_lettered(
    summit, rules, make_physician, make_referral
):
    note(make_referral(make_physician()))
    rules.letters_since = timezone.now() + datetime.timedelta(seconds=1)
    rules.save()

    assert letters_compose_due(organization=summit).composed == 0


def test_a_note_older_than_the_catch_up_window_makes_no_letter(summit, rules, make_physician, make_referral):
    with time_machine.travel(NOW - datetime.timedelta(days=15), tick=False):
        note(make_referral(make_physician()))

    assert letters_compose_due(organization=summit).composed == 0


def test_review_before_sending_holds_the_letter_until_approved(summit, rules, make_physician, make_referral):
    rules.review_before_sending = True
    rules.save()
    note(make_referral(make_physician()))

    result = letters_compose_due(organization=summit)

    assert result.to_review == 1
    assert Letter.objects.get().status == LetterStatus.REVIEW
    assert not OutboundEmail.objects.exists()


def test_another_organizations_notes_make_no_letter_here(
    summit, harbor, rules, make_physician, make_referral
):
    from ..factories import ClinicFactory, PhysicianFactory, ReferralFactory

    clinic = ClinicFactory(organization=harbor)
    note(ReferralFactory(organization=harbor, clinic=clinic, physician=PhysicianFactory(organization=harbor)))

    assert letters_compose_due(organization=summit).composed == 0
    assert not Letter.objects.exists()


def test_the_sweep_costs_the_same_for_one_letter_as_for_two_hundred(
    summit, rules, make_physician, make_referral, django_assert_max_num_queries
):
    def notes(count):
        for number in range(count):
            # Half by email (the outbox's queries), half to print.
            referral = make_referral(make_physician(email="" if number % 2 else f"doc{number}@example.org"))
            note(referral)

    notes(1)
    # 20, and 5 for the figures kept about the patients whose letters left (analytics' facts).
    with django_assert_max_num_queries(25) as one:
        assert letters_compose_due(organization=summit).composed == 1
    notes(200)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert letters_compose_due(organization=summit).composed == 200
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert letters_compose_due(organization=summit).composed == 0
