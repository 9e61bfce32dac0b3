"""The desk's tries at reaching the patient: logged, shown in the queue, "lost: unreachable" after enough."""

import datetime
import logging
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from referrals.models import ContactAttempt, ContactMethod, ContactOutcome, Referral, Status, StatusChange
from referrals.selectors import queue, referral_settings_get, with_contact_attempts
from referrals.services import ContactAttemptFields, contact_attempt_log, referral_settings_update
from referrals.views import PAGE_SIZE, QUEUE_PREVIEW

from ..factories import ReferralFactory

DENVER = ZoneInfo("America/Denver")
# A Tuesday morning in Denver.
NOW = datetime.datetime(2026, 11, 24, 10, 0, tzinfo=DENVER)
pytestmark = pytest.mark.usefixtures("pinned")


def received(organization, **fields):
    return ReferralFactory(organization=organization, received_at=NOW - datetime.timedelta(days=1), **fields)


def attempt(outcome=ContactOutcome.NO_ANSWER, *, hours_ago=1, method=ContactMethod.CALL, note=""):
    return ContactAttemptFields(
        method=method,
        outcome=outcome,
        note=note,
        attempted_at=NOW - datetime.timedelta(hours=hours_ago),
    )


def unanswered(referral: Referral) -> int:
    return with_contact_attempts(Referral.objects.filter(pk=referral.pk)).get().unanswered_attempts


def test_an_attempt_is_logged_with_who_and_when_and_leaves_the_referral_where_it_was(
    summit, summit_front_desk
):
    referral = received(summit)

    _, current = contact_attempt_log(
        referral=referral,
        user=summit_front_desk.user,
        attempt=attempt(note="  Asked to call\tback after 3 pm "),
    )

    saved = ContactAttempt.objects.get()
    assert (saved.organization, saved.referral, saved.attempted_by) == (
        summit,
        referral,
        summit_front_desk.user,
    )
    assert (saved.method, saved.outcome, saved.note) == ("call", "no_answer", "Asked to call back after 3 pm")
    assert saved.attempted_at == NOW - datetime.timedelta(hours=1)
    assert (current.status, current.version) == (Status.RECEIVED, 1)


def test_reaching_the_patient_of_a_received_referral_contacts_it_then(summit, summit_front_desk):
    referral = received(summit)

    _, current = contact_attempt_log(
        referral=referral, user=summit_front_desk.user, attempt=attempt(ContactOutcome.REACHED, hours_ago=2)
    )

    assert (current.status, current.version) == (Status.CONTACTED, 2)
    change = StatusChange.objects.get(referral=referral)
    assert (change.from_status, change.to_status, change.changed_by) == (
        "received",
        "contacted",
        summit_front_desk.user,
    )
    assert change.changed_at == NOW - datetime.timedelta(hours=2)
    # Reached again while booking: nothing more moves.
    _, again = contact_attempt_log(
        referral=current, user=summit_front_desk.user, attempt=attempt(ContactOutcome.REACHED)
    )
    assert (again.status, again.version) == (Status.CONTACTED, 2)


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        (
            attempt(ContactOutcome.BUSY, method=ContactMethod.LETTER),
            Status.RECEIVED,
            "is not an outcome of a letter",
        ),
        (attempt(hours_ago=-1), Status.RECEIVED, "cannot be in the future"),
        (attempt(hours_ago=30), Status.RECEIVED, "before the referral was received"),
        (attempt(), Status.LOST, "reopen it first"),
        (attempt(), Status.DISCHARGED, "A discharged referral takes no contact attempt."),
        (attempt(note="call\x00back"), Status.RECEIVED, "control character"),
    ],
    ids=["letter-busy", "future", "before-receipt", "lost", "discharged", "line-break"],
)
def test_an_attempt_the_rules_refuse_is_not_logged(summit, summit_front_desk, fields, status, message):
    referral = received(summit, status=status, loss_reason="declined" if status == Status.LOST else "")

    with pytest.raises(ValidationError, match=message):
        contact_attempt_log(referral=referral, user=summit_front_desk.user, attempt=fields)

    assert not ContactAttempt.objects.exists()


def test_unanswered_attempts_count_from_the_last_time_the_patient_was_reached(summit, summit_front_desk):
    referral = received(summit)
    user = summit_front_desk.user
    for hours_ago in (20, 18):
        contact_attempt_log(referral=referral, user=user, attempt=attempt(hours_ago=hours_ago))
    assert unanswered(referral) == 2

    contact_attempt_log(referral=referral, user=user, attempt=attempt(ContactOutcome.REACHED, hours_ago=10))
    assert unanswered(referral) == 0

    contact_attempt_log(
        referral=referral, user=user, attempt=attempt(ContactOutcome.LEFT_MESSAGE, hours_ago=2)
    )
    assert unanswered(referral) == 1


def test_the_queue_suggests_unreachable_at_the_organizations_threshold(desk, summit):
    referral = received(summit, clinic=desk.clinic)
    for hours_ago in (22, 20):
        contact_attempt_log(referral=referral, user=desk.user, attempt=attempt(hours_ago=hours_ago))

    [row] = queue(organization=summit, name="needs_contact")
    assert (row.attempts, row.unanswered_attempts, row.suggest_unreachable) == (2, 2, False)
    assert row.last_attempt_at == NOW - datetime.timedelta(hours=20)

    referral_settings_update(
        organization=summit,
        contact_sla_business_days=1,
        poc_signature_days=30,
        poc_certification_days=90,
        unreachable_after_attempts=2,
        patient_details_retention_years=7,
    )
    [row] = queue(organization=summit, name="needs_contact")
    assert row.suggest_unreachable
    page = desk.get(reverse("referrals:queues")).content.decode()
    assert "2 attempts · last 20\xa0hours ago" in page
    assert "Mark lost: unreachable" in page


def test_the_default_threshold_is_three_and_a_scheduled_referral_is_not_suggested(summit, summit_front_desk):
    assert referral_settings_get(organization=summit).unreachable_after_attempts == 3
    waiting, booked = received(summit), received(summit, status=Status.SCHEDULED)
    for referral in (waiting, booked):
        for hours_ago in (22, 20, 3):
            contact_attempt_log(
                referral=referral, user=summit_front_desk.user, attempt=attempt(hours_ago=hours_ago)
            )

    assert queue(organization=summit, name="needs_contact")[0].suggest_unreachable
    assert not queue(organization=summit, name="awaiting_evaluation")[0].suggest_unreachable


def test_one_click_marks_it_lost_as_unreachable_from_the_queue(desk, summit):
    referral = received(summit, clinic=desk.clinic)
    for hours_ago in (22, 20, 3):
        contact_attempt_log(referral=referral, user=desk.user, attempt=attempt(hours_ago=hours_ago))
    page = desk.get(reverse("referrals:queues")).content.decode()
    form = page[page.index(f'action="/referrals/{referral.pk}/move/"') :]
    form = form[: form.index("</form>")]
    fields = dict(
        (part.split('name="')[1].split('"')[0], part.split('value="')[1].split('"')[0])
        for part in form.split("<input")[1:]
        if 'name="' in part and 'value="' in part
    )

    response = desk.post(reverse("referrals:transition", args=[referral.pk]), fields)

    saved = Referral.objects.get(pk=referral.pk)
    assert (saved.status, saved.loss_reason) == (Status.LOST, "unreachable")
    assert response.url == f"{reverse('referrals:queues')}#needs_contact-heading"


def test_the_referral_page_logs_an_attempt_and_says_so(desk, summit):
    referral = received(summit, clinic=desk.clinic)
    data = {
        "method": "call",
        "outcome": "reached",
        "note": "Booking Friday",
        "attempted_at": "2026-11-24T09:45",
    }

    response = desk.post(reverse("referrals:contact_attempt_log", args=[referral.pk]), data, follow=True)

    page = response.content.decode()
    assert f"the patient was reached, so referral #{referral.number} is now contacted" in page
    assert "Booking Friday" in page
    assert ContactAttempt.objects.get().attempted_at == datetime.datetime(2026, 11, 24, 9, 45, tzinfo=DENVER)


@pytest.mark.parametrize(
    ("typed", "field", "message"),
    [
        ({"outcome": ""}, "outcome", "This field is required."),
        ({"method": "letter", "outcome": "busy"}, "outcome", "Not an outcome of a letter."),
        ({"attempted_at": "2026-11-25T09:00"}, "__all__", "cannot be in the future"),
        ({"note": "x" * 201}, "note", "at most 200 characters"),
    ],
    ids=["no-outcome", "letter-busy", "future", "long-note"],
)
def test_a_bad_attempt_comes_back_as_typed(desk, summit, typed, field, message):
    referral = received(summit, clinic=desk.clinic)
    data = {
        "method": "call",
        "outcome": "no_answer",
        "note": "Try mobile",
        "attempted_at": "2026-11-24T09:45",
    }

    response = desk.post(reverse("referrals:contact_attempt_log", args=[referral.pk]), {**data, **typed})

    assert response.status_code == 200
    form = response.context["attempt_form"]
    assert message in " ".join(form.errors[field])
    for name, value in {**data, **typed}.items():
        assert form[name].value() == value
    assert not ContactAttempt.objects.exists()


def test_the_note_never_reaches_a_log(desk, summit, caplog):
    referral = received(summit, clinic=desk.clinic)
    data = {
        "method": "call",
        "outcome": "no_answer",
        "note": "Spouse answered",
        "attempted_at": "2026-11-24T09:45",
    }

    with caplog.at_level(logging.DEBUG):
        desk.post(reverse("referrals:contact_attempt_log", args=[referral.pk]), data)

    assert ContactAttempt.objects.exists()
    assert "Spouse answered" not in caplog.text


@pytest.mark.parametrize(
    ("url_name", "query", "actions"),
    [
        ("referrals:queues", "", QUEUE_PREVIEW),
        ("referrals:queues", "?queue=needs_contact", PAGE_SIZE),
        ("referrals:queues", "?queue=needs_contact&late=1", PAGE_SIZE),
        ("referrals:list", "", 0),
    ],
)
def test_the_queues_and_the_list_run_the_same_queries_for_1_and_50_referrals_with_attempts(
    desk, summit, url_name, query, actions, django_assert_num_queries
):
    url = reverse(url_name) + query

    def add(count: int) -> None:
        for _ in range(count):
            # Two days old: late for the first call.
            referral: Referral = ReferralFactory.create(
                organization=summit, clinic=desk.clinic, received_at=NOW - datetime.timedelta(days=2)
            )
            for hours_ago in (20, 10, 2):
                contact_attempt_log(referral=referral, user=desk.user, attempt=attempt(hours_ago=hours_ago))

    referral_settings_get(organization=summit)  # made by the organization's first page that reads it
    add(1)
    with CaptureQueriesContext(connection) as queries:
        assert desk.get(url).status_code == 200
    add(49)

    with django_assert_num_queries(len(queries)):
        page = desk.get(url)

    # Each row shown offers "Mark lost: unreachable" after its three tries.
    assert page.content.decode().count("Mark lost: unreachable</button>") == actions
