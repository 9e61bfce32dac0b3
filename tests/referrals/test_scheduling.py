"""Scheduling books the first appointment, on the clinic's clock; rescheduling and cancelling are recorded."""

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from referrals.models import AppointmentAction, AppointmentChange, Referral, Status, StatusChange
from referrals.services import (
    FirstAppointment,
    ReferralsNotMoved,
    referral_reschedule,
    referral_transition,
    referral_transition_many,
)

from ..factories import ClinicFactory, ReferralFactory, first_appointment

DENVER = ZoneInfo("America/Denver")
BOSTON = ZoneInfo("America/New_York")
# A Tuesday morning in Denver.
NOW = datetime.datetime(2026, 11, 24, 9, 0, tzinfo=DENVER)
pytestmark = pytest.mark.usefixtures("pinned")


def received(organization, **fields):
    return ReferralFactory(organization=organization, received_at=NOW - datetime.timedelta(days=1), **fields)


def clinic(**fields):
    return ClinicFactory(**fields)


def bookings(referral: Referral) -> list[tuple]:
    return list(
        AppointmentChange.objects.filter(referral=referral)
        .order_by("pk")
        .values_list("action", "starts_at", "clinic_id")
    )


def test_scheduling_books_the_first_appointment_with_the_move(summit, summit_front_desk):
    referral = received(summit)
    appointment = first_appointment(referral)

    moved = referral_transition(
        referral=referral, user=summit_front_desk.user, to_status=Status.SCHEDULED, appointment=appointment
    )

    saved = Referral.objects.get(pk=referral.pk)
    assert (saved.status, saved.first_appointment_at, saved.first_appointment_clinic) == (
        Status.SCHEDULED,
        appointment.starts_at,
        referral.clinic,
    )
    assert saved.version == moved.version == referral.version + 1
    assert bookings(referral) == [(AppointmentAction.BOOKED, appointment.starts_at, referral.clinic_id)]


@pytest.mark.parametrize(
    ("appointment", "message"),
    [
        (None, "Give the first appointment's date, time and clinic to schedule the referral."),
        (
            lambda referral: first_appointment(referral, after=-datetime.timedelta(hours=1)),
            "The first appointment cannot be before the referral was received (Mon Nov 23, 2026 09:00 MST).",
        ),
        (
            lambda referral: first_appointment(referral, after=datetime.timedelta(days=400)),
            "more than a year ahead",
        ),
        (
            lambda referral: FirstAppointment(
                starts_at=NOW, clinic=clinic(organization=referral.organization, is_active=False)
            ),
            "is no longer active",
        ),
        (
            lambda referral: FirstAppointment(starts_at=NOW, clinic=clinic()),
            "Choose one of your organization's clinics.",
        ),
    ],
    ids=["missing", "before-receipt", "next-year", "inactive-clinic", "another-organizations-clinic"],
)
def test_scheduling_without_a_proper_appointment_is_refused_and_changes_nothing(
    summit, summit_front_desk, appointment, message
):
    referral = received(summit)

    with pytest.raises(ValidationError, match=re.escape(message)):
        referral_transition(
            referral=referral,
            user=summit_front_desk.user,
            to_status=Status.SCHEDULED,
            appointment=appointment(referral) if appointment else None,
        )

    saved = Referral.objects.get(pk=referral.pk)
    assert (saved.status, saved.first_appointment_at, saved.version) == (Status.RECEIVED, None, 1)
    assert not AppointmentChange.objects.exists()


def test_only_scheduling_takes_an_appointment(summit, summit_front_desk):
    referral = received(summit)

    with pytest.raises(ValidationError, match="Only scheduling books an appointment"):
        referral_transition(
            referral=referral,
            user=summit_front_desk.user,
            to_status=Status.CONTACTED,
            appointment=first_appointment(referral),
        )


def test_rescheduling_moves_the_appointment_and_is_recorded(summit, summit_front_desk):
    referral = received(summit)
    first = first_appointment(referral)
    referral = referral_transition(
        referral=referral, user=summit_front_desk.user, to_status=Status.SCHEDULED, appointment=first
    )
    other_clinic = ClinicFactory(organization=summit)
    later = FirstAppointment(starts_at=first.starts_at + datetime.timedelta(days=2), clinic=other_clinic)

    moved = referral_reschedule(
        referral=referral, user=summit_front_desk.user, version=referral.version, appointment=later
    )

    assert (moved.first_appointment_at, moved.first_appointment_clinic) == (later.starts_at, other_clinic)
    assert bookings(referral) == [
        (AppointmentAction.BOOKED, first.starts_at, referral.clinic_id),
        (AppointmentAction.RESCHEDULED, later.starts_at, other_clinic.pk),
    ]
    with pytest.raises(ValidationError, match="already booked"):
        referral_reschedule(referral=moved, user=summit_front_desk.user, appointment=later)
    with pytest.raises(ValidationError, match="Someone else changed this referral"):
        referral_reschedule(
            referral=moved, user=summit_front_desk.user, version=referral.version, appointment=first
        )


def test_only_a_scheduled_referral_is_rescheduled(summit, summit_front_desk):
    referral = received(summit)

    with pytest.raises(ValidationError, match="Only a scheduled referral's appointment can be changed"):
        referral_reschedule(
            referral=referral, user=summit_front_desk.user, appointment=first_appointment(referral)
        )


def test_losing_a_scheduled_referral_cancels_its_appointment_and_an_evaluation_keeps_it(
    summit, summit_front_desk
):
    lost, evaluated = received(summit), received(summit)
    for referral in (lost, evaluated):
        referral_transition(
            referral=referral,
            user=summit_front_desk.user,
            to_status=Status.SCHEDULED,
            appointment=first_appointment(referral),
        )

    referral_transition(
        referral=lost, user=summit_front_desk.user, to_status=Status.LOST, loss_reason="declined"
    )
    referral_transition(referral=evaluated, user=summit_front_desk.user, to_status=Status.EVALUATED)

    lost.refresh_from_db()
    evaluated.refresh_from_db()
    assert (lost.first_appointment_at, lost.first_appointment_clinic) == (None, None)
    assert [action for action, _, _ in bookings(lost)] == ["booked", "cancelled"]
    assert evaluated.first_appointment_at == first_appointment(evaluated).starts_at


def test_a_bulk_loss_cancels_what_single_losses_cancel(summit, summit_front_desk):
    alone, together, waiting = received(summit), received(summit), received(summit)
    for referral in (alone, together):
        referral_transition(
            referral=referral,
            user=summit_front_desk.user,
            to_status=Status.SCHEDULED,
            appointment=first_appointment(referral),
        )

    referral_transition(
        referral=alone, user=summit_front_desk.user, to_status=Status.LOST, loss_reason="declined"
    )
    referral_transition_many(
        organization=summit,
        user=summit_front_desk.user,
        referral_ids=[together.pk, waiting.pk],
        to_status=Status.LOST,
        loss_reason="declined",
    )

    assert bookings(together) == [
        (action, starts_at, together.clinic_id) for action, starts_at, _ in bookings(alone)
    ]
    assert Referral.objects.filter(first_appointment_at__isnull=False).count() == 0
    assert not AppointmentChange.objects.filter(referral=waiting).exists()


def test_scheduling_in_bulk_is_refused_with_the_reason(summit, summit_front_desk):
    referral = received(summit)

    with pytest.raises(ValidationError, match="schedule them one at a time") as refusal:
        referral_transition_many(
            organization=summit,
            user=summit_front_desk.user,
            referral_ids=[referral.pk],
            to_status=Status.SCHEDULED,
        )

    assert not isinstance(refusal.value, ReferralsNotMoved)
    assert Referral.objects.get(pk=referral.pk).status == Status.RECEIVED


def test_the_list_offers_no_bulk_scheduling_and_says_why_when_asked(desk, summit):
    referral = received(summit)

    page = desk.get(reverse("referrals:list"))
    response = desk.post(
        reverse("referrals:bulk_transition"),
        {"referrals": [referral.pk], "to_status": "scheduled"},
        follow=True,
    )

    assert ("scheduled", "Scheduled") not in page.context["bulk_statuses"]
    assert "schedule them one at a time" in response.content.decode()
    assert Referral.objects.get(pk=referral.pk).status == Status.RECEIVED


def schedule_data(referral, **overrides):
    data = {
        "to_status": "scheduled",
        "version": referral.version,
        "appointment_date": "2026-11-27",
        "appointment_time": "09:30",
        "appointment_clinic": referral.clinic_id,
    }
    return {**data, **overrides}


def test_the_appointment_is_typed_on_the_clinics_clock_wherever_the_desk_is(desk, summit):
    """A Denver desk books 9:30 at a Boston clinic: 9:30 in Boston, shown so to everyone."""
    boston = ClinicFactory(organization=summit, timezone="America/New_York", name="Harbor Point")
    referral = received(summit, clinic=boston)

    response = desk.post(
        reverse("referrals:transition", args=[referral.pk]), schedule_data(referral), follow=True
    )

    saved = Referral.objects.get(pk=referral.pk)
    assert saved.first_appointment_at == datetime.datetime(2026, 11, 27, 9, 30, tzinfo=BOSTON)
    page = response.content.decode()
    assert "first appointment Fri Nov 27, 2026 09:30 EST at Harbor Point" in page
    assert "Fri Nov 27, 2026 09:30 EST" in desk.get(reverse("referrals:queues")).content.decode()


@pytest.mark.parametrize(
    ("typed", "field", "message"),
    [
        ({"appointment_date": "2026-11-20"}, None, "cannot be before the referral was received"),
        ({"appointment_time": ""}, "appointment_time", "Give the time of the first appointment."),
        ({"appointment_date": "27/11/2026"}, "appointment_date", "Enter a date."),
        ({"appointment_date": "2026-03-08", "appointment_time": "02:30"}, "appointment_time", "clocks go"),
    ],
    ids=["before-receipt", "no-time", "bad-date", "skipped-by-daylight-saving"],
)
def test_a_bad_appointment_comes_back_as_typed_and_nothing_moves(desk, summit, typed, field, message):
    referral = received(summit, clinic=desk.clinic)
    if "2026-03-08" in typed.values():
        Referral.objects.filter(pk=referral.pk).update(
            received_at=datetime.datetime(2026, 3, 1, tzinfo=DENVER)
        )
    data = schedule_data(referral, **typed)

    response = desk.post(reverse("referrals:transition", args=[referral.pk]), data)

    assert response.status_code == 200
    form = response.context["appointment_form"]
    errors = form.errors.get(field or "__all__")
    assert message in " ".join(errors or [])
    for name, value in typed.items():
        assert form[name].value() == value
    assert message.split(".")[0] in response.content.decode().replace("&#x27;", "'")
    assert Referral.objects.get(pk=referral.pk).status == Status.RECEIVED
    assert StatusChange.objects.filter(referral=referral).count() == 0


def test_rescheduling_from_the_page_is_shown_in_the_history(desk, summit):
    referral = received(summit, clinic=desk.clinic)
    desk.post(reverse("referrals:transition", args=[referral.pk]), schedule_data(referral))
    referral.refresh_from_db()

    response = desk.post(
        reverse("referrals:reschedule", args=[referral.pk]),
        {**schedule_data(referral, appointment_time="14:00"), "to_status": ""},
        follow=True,
    )

    page = response.content.decode()
    assert "First appointment moved to Fri Nov 27, 2026 14:00 MST" in page
    assert "First appointment booked for Fri Nov 27, 2026 09:30 MST" in page
    assert "First appointment rescheduled for Fri Nov 27, 2026 14:00 MST" in page
    assert response.context["milestones"]["to_first_visit"] == datetime.timedelta(days=4, hours=5)


def test_a_bad_reschedule_comes_back_as_typed(desk, summit):
    referral = received(summit, clinic=desk.clinic)
    desk.post(reverse("referrals:transition", args=[referral.pk]), schedule_data(referral))
    referral.refresh_from_db()

    response = desk.post(
        reverse("referrals:reschedule", args=[referral.pk]),
        schedule_data(referral, appointment_date="2027-12-30"),
    )

    assert "more than a year ahead" in response.content.decode()
    assert response.context["appointment_form"]["appointment_date"].value() == "2027-12-30"
    assert Referral.objects.get(pk=referral.pk).first_appointment_at.date() == datetime.date(2026, 11, 27)


def test_the_list_and_the_awaiting_queue_show_the_appointment(desk, summit):
    referral = received(summit, clinic=desk.clinic)
    desk.post(reverse("referrals:transition", args=[referral.pk]), schedule_data(referral))
    legacy = received(summit, clinic=desk.clinic, status=Status.SCHEDULED)

    queues = desk.get(reverse("referrals:queues"))
    listed = desk.get(reverse("referrals:list")).content.decode()

    rows = {key: rows for key, _title, rows, _count in queues.context["queues"]}
    [awaiting, not_recorded] = rows["awaiting_evaluation"]
    assert (awaiting.referral, not_recorded.referral) == (referral, legacy)
    assert "Fri Nov 27, 2026 09:30 MST" in queues.content.decode()
    assert "No appointment recorded" in queues.content.decode()
    assert "First appointment Fri Nov 27, 2026 09:30 MST" in listed
