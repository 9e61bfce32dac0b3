"""The iCalendar document on its own: built from rows in memory, no request, no database."""

import datetime

import pytest
from icalendar import Calendar

from clinics.models import Clinic, Membership, Organization
from outreach.calendar import follow_ups_due_from, follow_ups_ical
from outreach.models import FollowUp, Touch
from physicians.models import Gatekeeper, Physician, Practice

NOW = datetime.datetime(2026, 3, 1, 3, 0, tzinfo=datetime.UTC)
PAGE = "https://rapport.example.org/outreach/follow-ups/"


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = "https://rapport.example.org"


def membership(home_clinic: Clinic | None = None) -> Membership:
    summit = Organization(name="Summit Physical Therapy")
    return Membership(pk=7, organization=summit, home_clinic=home_clinic)


def follow_up(pk: int, due_on: datetime.date, **touch) -> FollowUp:
    return FollowUp(pk=pk, due_on=due_on, note="Ask about Mr Jones", touch=Touch(notes="Mrs Smith", **touch))


def document_bytes(*follow_ups: FollowUp) -> bytes:
    return follow_ups_ical(membership=membership(), follow_ups=list(follow_ups), page_url=PAGE, now=NOW)


def document(*follow_ups: FollowUp) -> Calendar:
    return Calendar.from_ical(document_bytes(*follow_ups))


def test_each_follow_up_is_an_all_day_event_named_by_its_source_without_notes():
    ada = Physician(first_name="Ada", last_name="Quill", credential="MD")
    office = Practice(name="Elm Street Orthopedics")
    tina = Gatekeeper(first_name="Tina", last_name="Marsh")
    calendar = document(
        follow_up(1, datetime.date(2026, 3, 4), physician=ada),
        follow_up(2, datetime.date(2026, 3, 5), practice=office, gatekeeper=tina),
    )

    first, second = calendar.walk("VEVENT")
    assert str(first["UID"]) == "followup-1@rapport.example.org"
    assert str(first["SUMMARY"]) == "Follow up: Ada Quill, MD"
    assert (first.start, first.end) == (datetime.date(2026, 3, 4), datetime.date(2026, 3, 5))
    assert first["DTSTAMP"].dt == NOW
    assert str(first["URL"]) == PAGE
    assert str(first["TRANSP"]) == "TRANSPARENT"
    assert str(second["SUMMARY"]) == "Follow up: Elm Street Orthopedics (via Tina)"
    text = calendar.to_ical().decode()
    for private in ("Mr Jones", "Mrs Smith", "Marsh"):
        assert private not in text


def test_the_calendar_is_named_for_the_organization_and_asks_to_be_refreshed_hourly():
    calendar = document()

    assert str(calendar["X-WR-CALNAME"]) == "Rapport follow-ups · Summit Physical Therapy"
    assert str(calendar["UID"]) == "followups-7@rapport.example.org"
    assert calendar["REFRESH-INTERVAL"].dt == datetime.timedelta(hours=1)
    assert str(calendar["X-PUBLISHED-TTL"]) == "PT1H"
    assert not calendar.walk("VEVENT")


def test_the_refresh_interval_says_it_is_a_duration_as_rfc_7986_requires():
    lines = document_bytes().split(b"\r\n")

    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H" in lines


def test_a_due_date_no_calendar_can_hold_is_left_out_and_the_rest_stays():
    calendar = document(
        follow_up(1, datetime.date.max, practice=Practice(name="Far")),
        follow_up(2, datetime.date.max - datetime.timedelta(days=1), practice=Practice(name="Near")),
    )

    assert [str(event["UID"]) for event in calendar.walk("VEVENT")] == ["followup-2@rapport.example.org"]


@pytest.mark.parametrize(
    ("home_clinic", "today"),
    [
        # 03:00 UTC on March 1 is still February 28 in Honolulu.
        (Clinic(pk=1, timezone="Pacific/Honolulu"), datetime.date(2026, 2, 28)),
        (Clinic(pk=1, timezone="America/New_York"), datetime.date(2026, 2, 28)),
        (Clinic(pk=1, timezone="Europe/Berlin"), datetime.date(2026, 3, 1)),
    ],
)
def test_the_feed_reaches_a_month_back_from_today_where_the_person_works(home_clinic, today):
    due_from = follow_ups_due_from(membership=membership(home_clinic), now=NOW)

    assert due_from == today - datetime.timedelta(days=30)


def test_without_a_home_clinic_today_is_the_organizations():
    tokyo = Organization(name="Summit Physical Therapy", timezone="Asia/Tokyo")

    assert follow_ups_due_from(membership=Membership(organization=tokyo), now=NOW) == datetime.date(
        2026, 1, 30
    )
