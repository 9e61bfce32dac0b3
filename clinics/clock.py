"""Which time zone decides which day: the one rule behind every "today", day and week in Rapport.

Times are stored in UTC. A day, a week or a deadline belongs to someone, and
it is counted in its owner's zone:

1. **The organization's zone** (`Organization.timezone`) for what the
   organization computes for everyone: flags and the daily sweep (the
   "N days ago" they give), plan-of-care deadlines, the attention list's
   "reached today", weekly activity counts (and the digests and analytics to
   come), demo data. Two people looking at the same figure see the same
   number, wherever each of them is.
2. **A clinic's zone** for that clinic's business days: a referral's contact
   deadline and the business days it has waited (`referrals/sla.py`); and
   for an appointment there, typed and shown on the clinic's clock
   (`clinic_clock`): 9:30 in Denver reads 9:30 to a colleague in Boston too.
3. **A person's zone** (`Membership.timezone`, else their home clinic's, else
   the organization's) for what is theirs: their follow-ups due today, their
   calendar feed, the "now" and "today" a form starts from, and how every
   time is shown to them: `OrganizationMiddleware` activates it for the
   request.

Code asks this module, never `timezone.localdate()` or the server's
TIME_ZONE, which is only the default for new organizations and clinics.
"""

import datetime
from zoneinfo import ZoneInfo

from django.utils import formats, timezone

from .models import Clinic, Membership, Organization


def organization_zone(organization: Organization) -> ZoneInfo:
    return ZoneInfo(organization.timezone)


def clinic_zone(clinic: Clinic) -> ZoneInfo:
    return ZoneInfo(clinic.timezone)


def clinic_clock(moment: datetime.datetime, clinic: Clinic) -> str:
    """`moment` as the clinic's clocks show it, with the zone's abbreviation: "Tue Dec 1, 2026 09:30 MST"."""
    return formats.date_format(moment.astimezone(clinic_zone(clinic)), "D M j, Y H:i T")


def person_zone(membership: Membership) -> ZoneInfo:
    """The person's own zone, else their home clinic's, else the organization's.

    Reads `home_clinic` and `organization`: select them with the membership.
    """
    if membership.timezone:
        return ZoneInfo(membership.timezone)
    if membership.home_clinic_id is not None and membership.home_clinic is not None:
        return clinic_zone(membership.home_clinic)
    return organization_zone(membership.organization)


def local_date(moment: datetime.datetime, zone: ZoneInfo) -> datetime.date:
    """The calendar day an instant falls on in `zone`."""
    return moment.astimezone(zone).date()


def organization_today(organization: Organization, *, now: datetime.datetime | None = None) -> datetime.date:
    return local_date(now or timezone.now(), organization_zone(organization))


def person_today(membership: Membership, *, now: datetime.datetime | None = None) -> datetime.date:
    return local_date(now or timezone.now(), person_zone(membership))


def current_today() -> datetime.date:
    """The signed-in person's today, in a request (OrganizationMiddleware activates their zone).

    For a form field that has no membership at hand; views call person_today.
    """
    return timezone.localdate()


def local_day_bounds(day: datetime.date, zone: ZoneInfo) -> tuple[datetime.datetime, datetime.datetime]:
    """The instants `day` starts and the next day starts in `zone`: filter with `>= start, < end`.

    Each end is its own local midnight, so a day with a daylight-saving change
    is 23 or 25 hours long, as it is on the clock.
    """
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
    end = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone)
    return start, end


def week_start(day: datetime.date) -> datetime.date:
    """The Monday of `day`'s week: weeks run Monday to Sunday."""
    return day - datetime.timedelta(days=day.weekday())


def recent_weeks(today: datetime.date, count: int) -> list[datetime.date]:
    """The Mondays of the last `count` weeks, this week first."""
    current = week_start(today)
    return [current - datetime.timedelta(weeks=n) for n in range(count)]
