"""Contact deadlines counted in business days, in the clinic's own time zone (the rule: clinics/clock.py).

A referral that arrives on a business day starts its clock at once; one that
arrives on a weekend starts it at the beginning of the next business day.
The deadline is that moment moved forward by N business days, keeping the
time of day: received Friday 16:00, one business day → due Monday 16:00.
Public holidays are not known to Rapport and count as business days.
"""

import zoneinfo
from datetime import datetime, time, timedelta

SATURDAY = 5


def _is_business_day(day) -> bool:
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
