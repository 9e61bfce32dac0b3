import datetime
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinics.models import Role
from outreach.models import TouchKind
from outreach.selectors import touch_activity_by_week

from ..factories import ClinicFactory, TouchFactory, UserFactory

DENVER = zoneinfo.ZoneInfo("America/Denver")
NOW = datetime.datetime(2026, 3, 11, 10, 0, tzinfo=DENVER)  # a Wednesday
THIS_WEEK = datetime.date(2026, 3, 9)
LAST_WEEK = datetime.date(2026, 3, 2)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=DENVER)


@pytest.fixture
def people(summit, member_factory):
    clinic = ClinicFactory(organization=summit, timezone="America/Denver")
    return {
        "ann": member_factory(
            summit, Role.LIAISON, home_clinic=clinic, user=UserFactory(first_name="Ann", last_name="Lee")
        ),
        "bo": member_factory(summit, Role.THERAPIST, user=UserFactory(first_name="Bo", last_name="Park")),
    }


def by_column(table, week: datetime.date) -> dict[str, int]:
    row = next(row for row in table.rows if row.week == week)
    return {column: count for column, count in zip(table.columns, row.counts, strict=True) if count}


def test_touches_are_counted_per_week_by_kind_and_by_person(client, login, summit, harbor, people):
    ann, bo = people["ann"].user, people["bo"].user
    for kind, moment, user in [
        (TouchKind.CALL, at(2026, 3, 9, 0, 30), ann),  # Monday just after midnight: this week
        (TouchKind.CALL, at(2026, 3, 10, 9), ann),
        (TouchKind.LUNCH, at(2026, 3, 11, 8), bo),
        (TouchKind.OFFICE_VISIT, at(2026, 3, 8, 23, 30), bo),  # Sunday night: last week
        (TouchKind.EMAIL, at(2025, 12, 22, 9), ann),  # the oldest week shown
        (TouchKind.CALL, at(2025, 12, 21, 9), ann),  # a day before it: not shown
        (TouchKind.SERVICE_ANNOUNCEMENT, at(2026, 3, 10, 9), ann),  # a broadcast: not counted
        (TouchKind.GIFT, at(2026, 3, 10, 9), None),
    ]:
        TouchFactory(organization=summit, kind=kind, occurred_at=moment, made_by=user)
    TouchFactory(organization=harbor, kind=TouchKind.CALL, occurred_at=at(2026, 3, 10, 9))
    login(people["ann"])

    with time_machine.travel(NOW, tick=False):
        response = client.get(reverse("outreach:activity"))

    report = response.context["report"]
    assert report.weeks[0] == THIS_WEEK
    assert report.weeks[-1] == datetime.date(2025, 12, 22)
    assert len(report.weeks) == 12
    assert by_column(report.by_kind, THIS_WEEK) == {"Lunch": 1, "Call": 2, "Gift": 1}
    assert by_column(report.by_kind, LAST_WEEK) == {"Office visit": 1}
    assert by_column(report.by_kind, datetime.date(2025, 12, 22)) == {"Email": 1}
    assert report.by_kind.columns == ["Office visit", "Lunch", "Call", "Email", "Gift"]
    assert report.by_kind.totals == [1, 1, 2, 1, 1]
    assert report.by_kind.total == 6
    assert report.by_kind.rows[0].total == 4
    assert by_column(report.by_person, THIS_WEEK) == {"Ann Lee": 2, "Bo Park": 1, "Not recorded": 1}
    assert by_column(report.by_person, LAST_WEEK) == {"Bo Park": 1}
    assert report.by_person.columns[0] == "Ann Lee"  # most touches first
    assert report.by_person.total == 6
    page = response.content.decode()
    assert "Ann Lee" in page
    assert "(so far)" in page


def test_weeks_follow_the_organizations_time_zone_whoever_looks(summit, people):
    """Everyone sees the same counts: the organization's weeks, not the viewer's (clinics/clock.py)."""
    summit.timezone = "America/New_York"
    summit.save()
    TouchFactory(organization=summit, occurred_at=at(2026, 3, 8, 23, 30))  # Monday 1:30 am in New York

    with timezone.override(DENVER):  # a viewer in Denver, where it is still Sunday
        report = touch_activity_by_week(organization=summit, weeks=2, now=NOW)

    assert report.weeks == [THIS_WEEK, LAST_WEEK]
    assert report.by_kind.rows[0].total == 1
    assert report.by_kind.rows[1].total == 0


def test_an_empty_organization_gets_empty_tables(client, login, people):
    login(people["ann"])

    response = client.get(reverse("outreach:activity"))

    assert response.context["report"].by_kind.total == 0
    assert "No touches in these weeks." in response.content.decode()


def test_activity_runs_constant_queries(
    client, login, summit, people, member_factory, django_assert_max_num_queries
):
    login(people["ann"])
    kinds = [kind for kind in TouchKind if kind != TouchKind.SERVICE_ANNOUNCEMENT]

    def add_touches(count):
        for index in range(count):
            TouchFactory(
                organization=summit,
                kind=kinds[index % len(kinds)],
                made_by=member_factory(summit, Role.LIAISON).user,
                occurred_at=timezone.now() - datetime.timedelta(days=index * 2),
            )

    url = reverse("outreach:activity")
    add_touches(1)
    with django_assert_max_num_queries(5):
        client.get(url)
    with CaptureQueriesContext(connection) as one_touch:
        client.get(url)
    add_touches(29)

    with django_assert_max_num_queries(len(one_touch)):
        response = client.get(url)

    assert response.context["report"].by_kind.total == 30
