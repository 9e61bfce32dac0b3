"""Contact deadlines counted in business days, in the clinic's own time zone (the rule: clinics/clock.py).

A referral that arrives on a business day starts its clock at once; one that
arrives on a weekend starts it at the beginning of the next business day.
The deadline is that moment moved forward by N business days, keeping the
time of day: received Friday 16:00, one business day → due Monday 16:00.
Public holidays are not known to Rapport and count as business days.
"""

import zoneinfo
from datetime import date, datetime, time, timedelta

SATURDAY = 5


def _is_business_day(day: date) -> bool:
    return day.weekday() < SATURDAY


def contact_due_at(received_at: datetime, *, timezone_name: str, business_days: int) -> datetime:
    local = received_at.astimezone(zoneinfo.ZoneInfo(timezone_name))
    if not _is_business_day(local):
        day = local.date()
        while not _is_business_day(day):
            day += timedelta(days=1)
        local = datetime.combine(day, time.min, tzinfo=local.tzinfo)
    # Adding days to an aware datetime moves its wall-clock time, so the
    # deadline keeps its local hour across a daylight-saving change.
    due = local
    added = 0
    while added < business_days:
        due += timedelta(days=1)
        if _is_business_day(due):
            added += 1
    return due


def _business_days_back(day: date, business_days: int) -> date:
    """The business day `business_days` business days before the business day `day`."""
    counted = 0
    while counted < business_days:
        day -= timedelta(days=1)
        if _is_business_day(day):
            counted += 1
    return day


def late_if_received_before(now: datetime, *, timezone_name: str, business_days: int) -> datetime:
    """The instant that splits a clinic's new referrals at `now`: late if received before it.

    `received_at < late_if_received_before(now, …)` exactly when
    `contact_due_at(received_at, …) < now`, so a count in SQL agrees with the
    queue's deadlines. The deadline never falls on a weekend and grows with
    the receipt, so the late receipts are all those before one instant:

    1. On a business day E at time T, a deadline passed when it falls before
       (E, T): for a receipt on business day D at time t, when (D, t) is
       before (E less N business days, T).
    2. At midnight exactly, a weekend receipt just before that day is due
       then, not yet late: the instant moves back to the weekend's start.
    3. On a weekend, every deadline up to the last business day (F) has
       passed: receipts up to the end of F less N business days.
    """
    zone = zoneinfo.ZoneInfo(timezone_name)
    local = now.astimezone(zone)
    if _is_business_day(local):
        day = _business_days_back(local.date(), business_days)
        split = datetime.combine(day, local.time(), tzinfo=zone)
        if split.time() == time.min:
            while not _is_business_day(split.date() - timedelta(days=1)):
                split -= timedelta(days=1)
        return split
    last_business_day = local.date() - timedelta(days=1)
    while not _is_business_day(last_business_day):
        last_business_day -= timedelta(days=1)
    day = _business_days_back(last_business_day, business_days)
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)


def business_days_waiting(received_at: datetime, now: datetime, *, timezone_name: str) -> int:
    """Whole business days between receipt and now, in the clinic's calendar."""
    zone = zoneinfo.ZoneInfo(timezone_name)
    start, end = received_at.astimezone(zone).date(), now.astimezone(zone).date()
    days = 0
    day = start
    while day < end:
        day += timedelta(days=1)
        if _is_business_day(day):
            days += 1
    return days
