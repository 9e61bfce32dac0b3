"""When a person's next digest is due: their weekday and hour on their own clock.

Healthchecks' `choose_next_report_date`, with the day and hour the person
chose. The arithmetic is done on the local wall clock and only then turned
into an instant, which is what keeps daylight saving harmless:

1. Take `after` on the person's clock and set it to the chosen hour that day.
2. Step a calendar day at a time (wall-clock arithmetic: 07:00 stays 07:00
   across a change of offset) until the day is the chosen weekday and the
   moment is later than `after`.
3. Turn it into UTC. A week that changes offset is 167 or 169 hours long, but
   it still holds exactly one chosen weekday at the chosen hour, so a digest
   is neither skipped nor doubled. An hour that does not exist that day
   (02:30 when clocks spring forward) is read with the offset before the
   change, which lands an hour later on the new clock; an hour that happens
   twice (01:30 when they fall back) is its first occurrence.

The ISO week of the chosen day names the digest (`digest_week`): the outbox's
idempotency key is made of it, so whatever runs twice, a person gets one
digest per organization and week.
"""

import datetime
from zoneinfo import ZoneInfo

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def choose_next_digest_at(
    *, zone: ZoneInfo, weekday: int, hour: int, after: datetime.datetime
) -> datetime.datetime:
    """The first moment later than `after` that is `weekday` (0 = Monday) at `hour`:00 in `zone`, in UTC."""
    moment = after.astimezone(zone).replace(hour=hour, minute=0, second=0, microsecond=0, fold=0)
    while moment.weekday() != weekday or moment.astimezone(datetime.UTC) <= after:
        moment = (moment + datetime.timedelta(days=1)).replace(hour=hour)
    return moment.astimezone(datetime.UTC)


def digest_week(moment: datetime.datetime, zone: ZoneInfo) -> str:
    """The ISO week `moment` falls in on the person's clock: "2026-W49"."""
    year, week, _ = moment.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def week_monday(week: str) -> datetime.date:
    """The Monday of an ISO week named like `digest_week`'s; ValueError for anything else."""
    return datetime.datetime.strptime(f"{week}-1", "%G-W%V-%u").date()
