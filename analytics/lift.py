"""Outreach lift: did referrals from touched sources rise after a touch, more than from sources left alone?

A difference-in-differences, per touch kind and per person who made touches:

1. An event is a source's first touch of the kind (or by the person) in the
   period whose N days after have passed by today.
2. The source's change is its referrals in the N days from the touch's day
   minus its referrals in the N days before.
3. The comparison sources are the other active sources of the same tier
   with no touch of that kind (by that person) in those 2N days; their
   change is their mean change over the same days.
4. The event's lift is its change minus the comparison's; the estimate is
   the mean over events, with a 95 % interval of mean ± 1.96 × standard
   error (sample standard deviation ÷ √events). Fewer than two events, or no
   comparison source, give no estimate.

Pure functions over plain data, so tests can give them tables.
"""

import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

Z_95 = 1.96


@dataclass(frozen=True)
class Event:
    source_id: int
    day: date


@dataclass(frozen=True)
class Lift:
    events: int
    comparisons: float  # mean number of comparison sources per event
    mean_change: float | None  # touched sources' mean change (referrals per source in N days)
    mean_comparison_change: float | None
    estimate: float | None
    low: float | None
    high: float | None

    @property
    def verdict(self) -> str:
        if self.estimate is None or self.low is None or self.high is None:
            return "Too few touches to say"
        if self.low > 0:
            return "Referrals rose more after these touches"
        if self.high < 0:
            return "Referrals fell more after these touches"
        return "No clear difference"


class ReferralDays:
    """Each source's referral days, sorted, to count any window in O(log n)."""

    def __init__(self, days_by_source: Mapping[int, Sequence[date]]) -> None:
        self._days = {source: sorted(days) for source, days in days_by_source.items()}

    def count(self, source_id: int, start: date, end: date) -> int:
        """Referrals of the source received on days in [start, end)."""
        days = self._days.get(source_id)
        if not days:
            return 0
        return bisect_left(days, end) - bisect_left(days, start)

    def change(self, source_id: int, day: date, window: int) -> int:
        span = timedelta(days=window)
        return self.count(source_id, day, day + span) - self.count(source_id, day - span, day)


def first_events(touches: Sequence[tuple[int, date]]) -> list[Event]:
    """Each source's first touch day among `touches` (source, day)."""
    first: dict[int, date] = {}
    for source, day in touches:
        if source not in first or day < first[source]:
            first[source] = day
    return [Event(source_id=source, day=day) for source, day in sorted(first.items())]


def lift(
    *,
    events: Sequence[Event],
    touched_days: Mapping[int, Sequence[date]],
    tiers: Mapping[int, str],
    referrals: ReferralDays,
    window: int,
) -> Lift:
    """The difference-in-differences over `events` (see the module's steps).

    `touched_days` holds every day each source had a touch that rules it out
    as a comparison (of the kind, or by the person), `tiers` every active
    source's tier: the comparison pool.
    """
    by_tier: dict[str, list[int]] = {}
    for source, tier in tiers.items():
        by_tier.setdefault(tier, []).append(source)
    span = timedelta(days=window)
    touched = {source: sorted(days) for source, days in touched_days.items()}
    comparison_cache: dict[tuple[date, str], tuple[float, int] | None] = {}

    def untouched(source: int, day: date) -> bool:
        days = touched.get(source)
        if not days:
            return True
        first = bisect_left(days, day - span)
        return first == len(days) or days[first] >= day + span

    def comparison(day: date, tier: str) -> tuple[float, int] | None:
        key = (day, tier)
        if key not in comparison_cache:
            changes = [
                referrals.change(source, day, window)
                for source in by_tier.get(tier, ())
                if untouched(source, day)
            ]
            comparison_cache[key] = (sum(changes) / len(changes), len(changes)) if changes else None
        return comparison_cache[key]

    lifts, own, others, pool = [], [], [], []
    for event in events:
        event_tier = tiers.get(event.source_id)
        compared = comparison(event.day, event_tier) if event_tier is not None else None
        if compared is None:
            continue
        change = referrals.change(event.source_id, event.day, window)
        own.append(change)
        others.append(compared[0])
        pool.append(compared[1])
        lifts.append(change - compared[0])
    if not lifts:
        return Lift(0, 0, None, None, None, None, None)
    mean = sum(lifts) / len(lifts)
    low = high = None
    if len(lifts) >= 2:
        variance = sum((value - mean) ** 2 for value in lifts) / (len(lifts) - 1)
        margin = Z_95 * math.sqrt(variance / len(lifts))
        low, high = mean - margin, mean + margin
    return Lift(
        events=len(lifts),
        comparisons=sum(pool) / len(pool),
        mean_change=sum(own) / len(own),
        mean_comparison_change=sum(others) / len(others),
        estimate=mean if low is not None else None,
        low=low,
        high=high,
    )
