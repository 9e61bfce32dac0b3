"""A person's open follow-ups as an iCalendar document, for the calendar app they subscribed with.

Only names of sources go out, never notes, which are free text and could
hold patient details: calendar services are outside Rapport.
"""

import datetime
from urllib.parse import urlsplit

from django.conf import settings
from icalendar import TRANSP, Calendar, Event

from clinics.clock import person_today
from clinics.models import Membership

from .models import FollowUp

# Calendar apps show overdue follow-ups for a month; older ones live on the follow-ups page.
CALENDAR_PAST_DAYS = 30
CALENDAR_REFRESH = datetime.timedelta(hours=1)


def follow_ups_due_from(*, membership: Membership, now: datetime.datetime) -> datetime.date:
    """The earliest due date the feed shows: a month back from the person's today."""
    return person_today(membership, now=now) - datetime.timedelta(days=CALENDAR_PAST_DAYS)


def follow_ups_ical(
    *, membership: Membership, follow_ups: list[FollowUp], page_url: str, now: datetime.datetime
) -> bytes:
    """The iCalendar document of `membership`'s follow-ups: one all-day event each, linking to `page_url`.

    Event ids are stable (the follow-up's id and this installation's host), so a
    calendar app updates an event in place instead of adding a second one.
    """
    events = [_event(follow_up, stamp=now, url=page_url) for follow_up in follow_ups]
    calendar = Calendar.new(
        name=f"Rapport follow-ups · {membership.organization.name}",
        prodid="-//Rapport//Follow-ups//EN",
        uid=f"followups-{membership.pk}@{_domain()}",
        refresh_interval=CALENDAR_REFRESH,
        subcomponents=[event for event in events if event is not None],
    )
    # RFC 7986 requires VALUE=DURATION on REFRESH-INTERVAL (its value type has
    # no default); the library leaves it out, and strict clients then skip the hint.
    calendar["REFRESH-INTERVAL"].params["VALUE"] = "DURATION"
    # Outlook ignores REFRESH-INTERVAL and reads its own property.
    calendar.add("X-PUBLISHED-TTL", "PT1H")
    return calendar.to_ical()


def follow_up_summary(follow_up: FollowUp) -> str:
    """The event's title: whom to follow up with, and the first name of the gatekeeper spoken to.

    A gatekeeper touch always has its practice (touch_log fills it in), so the
    title names the physician or the practice, as the README promises.
    """
    touch = follow_up.touch
    whom = touch.physician or touch.practice
    if whom is None:
        return f"Follow up: {touch.gatekeeper}"
    via = f" (via {touch.gatekeeper.first_name})" if touch.gatekeeper else ""
    return f"Follow up: {whom}{via}"


def _event(follow_up: FollowUp, *, stamp: datetime.datetime, url: str) -> Event | None:
    """The follow-up as an all-day event, or None for a due date the calendar cannot hold.

    Only a row from before follow-up dates were limited can be that far out
    (9999-12-31 has no next day); the rest of the feed must still load.
    """
    try:
        end = follow_up.due_on + datetime.timedelta(days=1)
    except OverflowError:
        return None
    return Event.new(
        uid=f"followup-{follow_up.pk}@{_domain()}",
        stamp=stamp,
        start=follow_up.due_on,
        end=end,
        summary=follow_up_summary(follow_up),
        url=url,
        transparency=TRANSP.TRANSPARENT,
    )


def _domain() -> str:
    """This installation's host, so event ids of a test and a live Rapport never collide in one calendar."""
    return urlsplit(settings.SITE_URL).hostname or "rapport"
