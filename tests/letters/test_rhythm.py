"""Which letters each rhythm produces over a simulated year; monthly summaries by the local calendar."""

import datetime
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
import time_machine

from letters.models import Letter, LetterKind
from letters.rhythm import RHYTHM_LETTERS, month_bounds, previous_month, rhythms_wanting
from letters.services import letters_compose_due
from outcomes.models import NoteKind
from physicians.models import UpdateRhythm
from referrals.models import Status

from .records import move, note

DENVER = ZoneInfo("America/Denver")


@pytest.mark.parametrize(
    ("rhythm", "kinds"),
    [
        (UpdateRhythm.AFTER_EVALUATION, {LetterKind.EVALUATION}),
        (
            UpdateRhythm.EVERY_PROGRESS_NOTE,
            {LetterKind.EVALUATION, LetterKind.PROGRESS, LetterKind.DISCHARGE},
        ),
        (UpdateRhythm.AT_DISCHARGE, {LetterKind.DISCHARGE}),
        (UpdateRhythm.MONTHLY, {LetterKind.MONTHLY}),
        (UpdateRhythm.NO_UPDATES, set()),
    ],
)
def test_each_rhythm_names_its_letters(rhythm, kinds):
    assert RHYTHM_LETTERS[rhythm] == kinds
    assert all(rhythm in rhythms_wanting(kind) for kind in kinds)


@pytest.mark.parametrize(
    ("day", "month"),
    [
        (datetime.date(2026, 3, 1), datetime.date(2026, 2, 1)),
        (datetime.date(2026, 3, 31), datetime.date(2026, 2, 1)),
        (datetime.date(2026, 1, 15), datetime.date(2025, 12, 1)),
    ],
)
def test_the_previous_month(day, month):
    assert previous_month(day) == month


def test_a_month_runs_from_local_midnight_to_local_midnight_across_a_daylight_saving_change():
    start, end = month_bounds(datetime.date(2026, 11, 1), DENVER)

    assert start.astimezone(datetime.UTC) == datetime.datetime(2026, 11, 1, 6, tzinfo=datetime.UTC)  # MDT
    assert end.astimezone(datetime.UTC) == datetime.datetime(2026, 12, 1, 7, tzinfo=datetime.UTC)  # MST


# Each physician's patients over 2026: a referral every quarter, evaluated three days in,
# progress notes a month and two months in, discharged after 95 days (the last in January
# 2027); so every month has a patient in care. The clock moves a day at a time at 13:00 in
# Denver and the sweep runs each day, and once more at 00:30 on the 1st, as beat would.
STARTS = [
    datetime.date(2026, 1, 5),
    datetime.date(2026, 4, 5),
    datetime.date(2026, 7, 4),
    datetime.date(2026, 10, 2),
]
STEPS = {3: NoteKind.EVALUATION, 33: NoteKind.PROGRESS, 63: NoteKind.PROGRESS, 95: NoteKind.DISCHARGE}
EXPECTED = {
    UpdateRhythm.AFTER_EVALUATION: {LetterKind.EVALUATION: 4},
    UpdateRhythm.EVERY_PROGRESS_NOTE: {
        LetterKind.EVALUATION: 4,
        LetterKind.PROGRESS: 8,
        LetterKind.DISCHARGE: 4,
    },
    UpdateRhythm.AT_DISCHARGE: {LetterKind.DISCHARGE: 4},
    UpdateRhythm.MONTHLY: {LetterKind.MONTHLY: 12},
    UpdateRhythm.NO_UPDATES: {},
}


@pytest.mark.django_db
def test_a_year_of_care_brings_each_physician_exactly_the_letters_of_their_rhythm(
    summit, rules, make_physician, make_referral, therapist
):
    summit.timezone = "America/Denver"
    summit.save()
    physicians = {rhythm: make_physician(rhythm=rhythm) for rhythm in EXPECTED}
    events: dict[datetime.date, list] = {}
    for start in STARTS:
        for days, kind in STEPS.items():
            events.setdefault(start + datetime.timedelta(days=days), []).append(kind)

    referrals: dict[tuple, object] = {}
    day = datetime.date(2026, 1, 1)
    while day <= datetime.date(2027, 1, 10):
        if day.day == 1:
            with time_machine.travel(
                datetime.datetime.combine(day, datetime.time(0, 30), DENVER), tick=False
            ):
                letters_compose_due(organization=summit)
        with time_machine.travel(datetime.datetime.combine(day, datetime.time(13), DENVER), tick=False):
            for start in STARTS:
                if day == start:
                    for rhythm, physician in physicians.items():
                        referral = make_referral(
                            physician, received_at=datetime.datetime.combine(day, datetime.time(9), DENVER)
                        )
                        move(referral, Status.SCHEDULED)
                        referrals[rhythm, start] = referral
                for days, kind in STEPS.items():
                    if day == start + datetime.timedelta(days=days):
                        for rhythm in physicians:
                            note(referrals[rhythm, start], kind, therapist=therapist.user, noted_on=day)
                            if kind == NoteKind.PROGRESS:
                                move(referrals[rhythm, start], Status.IN_CARE)
            letters_compose_due(organization=summit)
        day += datetime.timedelta(days=1)

    for rhythm, physician in physicians.items():
        produced = Counter(Letter.objects.filter(physician=physician).values_list("kind", flat=True))
        assert produced == Counter(EXPECTED[rhythm]), rhythm
    months = sorted(Letter.objects.filter(kind=LetterKind.MONTHLY).values_list("period_start", flat=True))
    assert months == [datetime.date(2026, month, 1) for month in range(1, 13)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("instant", "due"),
    [
        # November ends at midnight MST (07:00 UTC), not at midnight UTC nor 06:00 UTC (MDT).
        (datetime.datetime(2026, 12, 1, 6, 59, tzinfo=datetime.UTC), False),
        (datetime.datetime(2026, 12, 1, 7, 0, tzinfo=datetime.UTC), True),
        # March ends at midnight MDT (06:00 UTC), the clocks having sprung forward on March 8.
        (datetime.datetime(2026, 4, 1, 5, 59, tzinfo=datetime.UTC), False),
        (datetime.datetime(2026, 4, 1, 6, 0, tzinfo=datetime.UTC), True),
        # A year's end.
        (datetime.datetime(2026, 12, 31, 23, 59, tzinfo=DENVER), False),
        (datetime.datetime(2027, 1, 1, 0, 0, tzinfo=DENVER), True),
    ],
)
def test_a_monthly_summary_is_due_at_midnight_on_the_first_in_the_organizations_zone(
    summit, rules, make_physician, make_referral, instant, due
):
    summit.timezone = "America/Denver"
    summit.save()
    physician = make_physician(rhythm=UpdateRhythm.MONTHLY)
    make_referral(physician, received_at=datetime.datetime(2026, 1, 2, 9, tzinfo=DENVER))

    with time_machine.travel(instant, tick=False):
        letters_compose_due(organization=summit)

    month = previous_month((instant + datetime.timedelta(minutes=1)).astimezone(DENVER).date())
    letters = list(Letter.objects.filter(kind=LetterKind.MONTHLY).values_list("period_start", flat=True))
    # Before the 1st, the month before the last is long summarized; only the month just ended is tested.
    assert (month in letters) is due


@pytest.mark.django_db
def test_a_monthly_summary_lists_the_months_patients_not_those_closed_before_it(
    summit, rules, make_physician, make_referral
):
    summit.timezone = "America/Denver"
    summit.save()
    physician = make_physician(rhythm=UpdateRhythm.MONTHLY)
    in_care = make_referral(
        physician, last_name="Ames", received_at=datetime.datetime(2026, 10, 20, 9, tzinfo=DENVER)
    )
    discharged_in_november = make_referral(
        physician, last_name="Brandt", received_at=datetime.datetime(2026, 9, 1, 9, tzinfo=DENVER)
    )
    move(discharged_in_november, Status.DISCHARGED, datetime.datetime(2026, 11, 20, 9, tzinfo=DENVER))
    discharged_before = make_referral(
        physician, last_name="Cole", received_at=datetime.datetime(2026, 8, 1, 9, tzinfo=DENVER)
    )
    move(discharged_before, Status.DISCHARGED, datetime.datetime(2026, 10, 31, 23, tzinfo=DENVER))
    make_referral(physician, last_name="Dunn", received_at=datetime.datetime(2026, 12, 1, 9, tzinfo=DENVER))

    with time_machine.travel(datetime.datetime(2026, 12, 1, 8, tzinfo=DENVER), tick=False):
        letters_compose_due(organization=summit)

    summary = Letter.objects.get(kind=LetterKind.MONTHLY)
    names = [row["name"] for row in summary.content["patients"]]
    assert names == ["Maria Ames", "Maria Brandt"]
    assert summary.content["month"] == "November 2026"
    assert sorted(summary.about.values_list("referral_id", flat=True)) == sorted(
        [in_care.pk, discharged_in_november.pk]
    )
