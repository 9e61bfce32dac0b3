"""The outreach lift's arithmetic on a table worked out by hand (analytics/lift.py)."""

from datetime import date

import pytest

from analytics.lift import Event, ReferralDays, first_events, lift

JAN = 1


def day(n: int, month: int = JAN) -> date:
    return date(2026, month, n)


# Three tier-A sources and one tier-B; 1 touched Jan 20, 2 touched Jan 25, 3 never.
REFERRALS = ReferralDays(
    {
        1: [day(12), day(21), day(22), day(29)],
        2: [day(16), day(18), day(26), day(1, 2)],
        3: [day(11), day(28)],
        4: [day(21), day(22), day(23)],
    }
)
TIERS = {1: "A", 2: "A", 3: "A", 4: "B"}
TOUCHED = {1: [day(20)], 2: [day(25)]}


def test_counts_referrals_in_half_open_windows():
    assert REFERRALS.count(1, day(10), day(20)) == 1
    assert REFERRALS.count(1, day(20), day(30)) == 3
    assert REFERRALS.change(1, day(20), 10) == 2
    assert REFERRALS.change(99, day(20), 10) == 0


def test_first_events_keep_each_sources_first_touch():
    assert first_events([(2, day(25)), (1, day(27)), (1, day(20))]) == [Event(1, day(20)), Event(2, day(25))]


def test_difference_in_differences_with_its_interval():
    # Event 1: source 1 rose by 2; the only untouched tier-A source in Jan 10–30 (3) by 0: lift 2.
    # Event 2: source 2 changed by 0; source 3 in Jan 15–Feb 4 rose by 1: lift −1.
    # Mean 0.5; sample sd √4.5; standard error 1.5; interval 0.5 ± 1.96 × 1.5.
    result = lift(
        events=[Event(1, day(20)), Event(2, day(25))],
        touched_days=TOUCHED,
        tiers=TIERS,
        referrals=REFERRALS,
        window=10,
    )

    assert (result.events, result.comparisons) == (2, 1.0)
    assert (result.mean_change, result.mean_comparison_change) == (1.0, 0.5)
    assert result.estimate == pytest.approx(0.5)
    assert (result.low, result.high) == (pytest.approx(0.5 - 2.94), pytest.approx(0.5 + 2.94))
    assert result.verdict == "No clear difference"


def test_one_event_or_no_comparison_gives_no_estimate():
    one = lift(events=[Event(1, day(20))], touched_days=TOUCHED, tiers=TIERS, referrals=REFERRALS, window=10)
    alone = lift(
        events=[Event(4, day(20))], touched_days={4: [day(20)]}, tiers=TIERS, referrals=REFERRALS, window=10
    )

    assert (one.events, one.estimate, one.verdict) == (1, None, "Too few touches to say")
    assert (alone.events, alone.estimate) == (0, None)


def test_a_clear_rise_says_so():
    rising = ReferralDays({source: [day(25), day(26)] for source in (1, 2)} | {3: []})
    result = lift(
        events=[Event(1, day(20)), Event(2, day(20))],
        touched_days={1: [day(20)], 2: [day(20)]},
        tiers={1: "A", 2: "A", 3: "A"},
        referrals=rising,
        window=10,
    )

    assert (result.estimate, result.low, result.high) == (2.0, 2.0, 2.0)
    assert result.verdict == "Referrals rose more after these touches"
