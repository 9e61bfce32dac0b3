"""When a digest comes: the person's weekday and hour on their own clock, once per ISO week, DST or not."""

import datetime
from zoneinfo import ZoneInfo

import pytest

from digests.schedule import choose_next_digest_at, digest_week, week_monday

DENVER = ZoneInfo("America/Denver")
KOLKATA = ZoneInfo("Asia/Kolkata")
LONDON = ZoneInfo("Europe/London")
UTC = datetime.UTC


def local(zone, *args):
    return datetime.datetime(*args, tzinfo=zone)


def weekly(zone, *, weekday, hour, start, weeks):
    """The next `weeks` digests after `start`, each chosen after the one before."""
    moments, after = [], start
    for _ in range(weeks):
        after = choose_next_digest_at(zone=zone, weekday=weekday, hour=hour, after=after)
        moments.append(after)
    return moments


@pytest.mark.parametrize(
    ("zone", "start", "label"),
    [
        # Clocks spring forward on Sunday March 8, 2026 in Denver, fall back on November 1.
        (DENVER, local(DENVER, 2026, 2, 25, 12), "spring forward"),
        (DENVER, local(DENVER, 2026, 10, 21, 12), "fall back"),
        # London changes on other Sundays (March 29 and October 25).
        (LONDON, local(LONDON, 2026, 3, 18, 12), "spring forward in London"),
        (LONDON, local(LONDON, 2026, 10, 14, 12), "fall back in London"),
        # Kolkata has no daylight saving and a half-hour offset.
        (KOLKATA, local(KOLKATA, 2026, 3, 1, 12), "no DST"),
    ],
)
def test_one_digest_each_iso_week_at_seven_on_mondays_across_a_change_of_offset(zone, start, label):
    moments = weekly(zone, weekday=0, hour=7, start=start, weeks=6)

    on_the_clock = [moment.astimezone(zone) for moment in moments]
    assert all(moment.weekday() == 0 and (moment.hour, moment.minute) == (7, 0) for moment in on_the_clock), (
        label
    )
    weeks = [digest_week(moment, zone) for moment in moments]
    assert len(set(weeks)) == 6, label
    assert [week_monday(week) for week in weeks] == [
        week_monday(weeks[0]) + datetime.timedelta(weeks=n) for n in range(6)
    ]
    gaps = {moments[n + 1] - moments[n] for n in range(5)}
    assert gaps <= {
        datetime.timedelta(hours=167),
        datetime.timedelta(hours=168),
        datetime.timedelta(hours=169),
    }


def test_the_week_that_springs_forward_is_an_hour_shorter_and_the_one_that_falls_back_an_hour_longer():
    spring = weekly(DENVER, weekday=0, hour=7, start=local(DENVER, 2026, 3, 3, 12), weeks=2)
    fall = weekly(DENVER, weekday=0, hour=7, start=local(DENVER, 2026, 10, 27, 12), weeks=2)

    assert spring[0].astimezone(DENVER).date() == datetime.date(2026, 3, 9)
    assert spring[0] - weekly(DENVER, weekday=0, hour=7, start=local(DENVER, 2026, 2, 24, 12), weeks=1)[
        0
    ] == (datetime.timedelta(hours=167))
    assert fall[0].astimezone(DENVER).date() == datetime.date(2026, 11, 2)
    assert fall[0] - weekly(DENVER, weekday=0, hour=7, start=local(DENVER, 2026, 10, 20, 12), weeks=1)[0] == (
        datetime.timedelta(hours=169)
    )


def test_an_hour_that_does_not_exist_or_happens_twice_still_makes_one_digest():
    # Sunday March 8, 2026, 02:00 does not exist in Denver; Sunday November 1, 01:00 happens twice.
    skipped = choose_next_digest_at(zone=DENVER, weekday=6, hour=2, after=local(DENVER, 2026, 3, 7, 12))
    doubled = choose_next_digest_at(zone=DENVER, weekday=6, hour=1, after=local(DENVER, 2026, 10, 31, 12))
    after_doubled = choose_next_digest_at(zone=DENVER, weekday=6, hour=1, after=doubled)

    assert skipped.astimezone(DENVER).date() == datetime.date(2026, 3, 8)
    assert doubled == datetime.datetime(2026, 11, 1, 7, tzinfo=UTC)  # the first 01:00, still MDT
    assert after_doubled.astimezone(DENVER).date() == datetime.date(2026, 11, 8)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # Monday 06:59 in Denver: today at 07:00.
        (local(DENVER, 2026, 12, 7, 6, 59), local(DENVER, 2026, 12, 7, 7)),
        # Monday 07:00 exactly: that one is taken, so next week.
        (local(DENVER, 2026, 12, 7, 7), local(DENVER, 2026, 12, 14, 7)),
        (local(DENVER, 2026, 12, 9, 12), local(DENVER, 2026, 12, 14, 7)),
    ],
)
def test_the_next_digest_is_strictly_after_the_moment_given(after, expected):
    assert choose_next_digest_at(zone=DENVER, weekday=0, hour=7, after=after) == expected


def test_a_person_in_kolkata_gets_theirs_at_seven_in_kolkata_on_their_monday():
    # Sunday evening in Denver is already Monday morning in Kolkata.
    after = local(DENVER, 2026, 12, 6, 12)

    moment = choose_next_digest_at(zone=KOLKATA, weekday=0, hour=7, after=after)

    assert moment.astimezone(KOLKATA) == local(KOLKATA, 2026, 12, 7, 7)
    assert moment.astimezone(DENVER) == local(DENVER, 2026, 12, 6, 18, 30)
    assert digest_week(moment, KOLKATA) == "2026-W50"


def test_a_week_name_that_is_not_one_is_refused():
    with pytest.raises(ValueError, match="does not match format"):
        week_monday("2026-W99")
