"""The late count agrees with the queue: `received_at < late_if_received_before(now)` iff the deadline passed.

The queue marks a referral late when `contact_due_at(received_at) < now`,
in Python, row by row; the home page counts them in SQL with one instant per
clinic zone. The table below compares the two over three weeks of receipts
and moments, weekends, exact midnights and both daylight-saving changes.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from referrals.sla import contact_due_at, late_if_received_before

ZONES = ["America/Denver", "America/New_York", "Pacific/Honolulu", "Europe/London"]


def moments(zone: ZoneInfo, first: datetime, days: int) -> list[datetime]:
    """Every 7 hours 13 minutes over `days`, and each local midnight and the microsecond after it."""
    every = [first + timedelta(minutes=433 * n) for n in range(days * 24 * 60 // 433)]
    midnights = [
        datetime.combine(first.date() + timedelta(days=n), datetime.min.time(), tzinfo=zone)
        for n in range(days)
    ]
    return every + midnights + [midnight + timedelta(microseconds=1) for midnight in midnights]


@pytest.mark.parametrize("zone_name", ZONES)
@pytest.mark.parametrize("business_days", [1, 2, 3, 5])
@pytest.mark.parametrize(
    "first",
    [
        datetime(2026, 2, 26, tzinfo=UTC),  # US clocks go forward on 8 March
        datetime(2026, 10, 15, tzinfo=UTC),  # UK clocks go back on 25 October, US on 1 November
    ],
    ids=["spring", "autumn"],
)
def test_the_split_instant_agrees_with_each_deadline(zone_name, business_days, first):
    zone = ZoneInfo(zone_name)
    receipts = moments(zone, first, days=21)
    disagreements = []
    for now in moments(zone, first + timedelta(days=7), days=14):
        split = late_if_received_before(now, timezone_name=zone_name, business_days=business_days)
        for received_at in receipts:
            if received_at > now:
                continue
            late = contact_due_at(received_at, timezone_name=zone_name, business_days=business_days) < now
            if late != (received_at < split):
                disagreements.append((now, received_at))

    assert disagreements == []


@pytest.mark.parametrize(
    ("now", "split"),
    [
        # Wednesday 10:00 Denver, one business day: received before Tuesday 10:00.
        (datetime(2026, 12, 2, 10, 0), datetime(2026, 12, 1, 10, 0)),
        # Monday 10:00: before Friday 10:00; a weekend receipt was due Monday 00:00, late now.
        (datetime(2026, 11, 30, 10, 0), datetime(2026, 11, 27, 10, 0)),
        # Tuesday at midnight exactly: a weekend receipt is due now, not yet late; Friday's is.
        (datetime(2026, 12, 1, 0, 0), datetime(2026, 11, 28, 0, 0)),
        # Sunday: every deadline up to Friday has passed, so receipts up to Thursday's end.
        (datetime(2026, 11, 29, 15, 0), datetime(2026, 11, 27, 0, 0)),
    ],
)
def test_the_split_instant_in_words(now, split):
    denver = ZoneInfo("America/Denver")

    assert late_if_received_before(
        now.replace(tzinfo=denver), timezone_name="America/Denver", business_days=1
    ) == split.replace(tzinfo=denver)
