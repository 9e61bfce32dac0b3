"""Days at the calendar's ends answer a form error on every URL: never a 500.

A date box takes 0001-01-01 and 9999-12-31. Filters turn a day into the
instants it starts and ends in a time zone, and the day after 9999-12-31, or
the midnight before 0001-01-01 east of UTC, does not exist: OverflowError.
The walk sends every date and date-time parameter of the project's forms, set
to each end of the calendar, to every URL pattern by GET and POST.
"""

import pytest
from django import forms
from django.urls import reverse

from clinics.models import Role
from config.days import LATEST_DAY

from .factories import ReferralFactory
from .test_bad_ids import _every_url, _form_classes

EXTREME_DAYS = ["9999-12-31", "0001-01-01"]


def day_parameters() -> set[str]:
    """The name of every field of every project form that takes a day or a moment."""
    return {
        name
        for form_class in _form_classes()
        for name, field in getattr(form_class, "base_fields", {}).items()
        if isinstance(field, forms.DateField | forms.DateTimeField)
    }


def test_the_walk_knows_the_day_fields_of_the_forms():
    assert {
        "since",
        "until",
        "start",
        "end",
        "received_until",
        "occurred_at",
        "follow_up_on",
    } <= day_parameters()


@pytest.mark.parametrize("day", EXTREME_DAYS)
def test_every_url_refuses_days_at_the_calendars_ends_without_a_500(client, summit, member_factory, day):
    ReferralFactory(organization=summit)
    client.force_login(member_factory(summit, Role.ADMIN).user)
    names = sorted(day_parameters())
    failures = []

    for url_name, url in _every_url():
        data = {name: day for name in names}
        for method in ("get", "post"):
            try:
                status = getattr(client, method)(url, data).status_code
            except OverflowError as error:
                status = f"OverflowError: {error}"
            if not isinstance(status, int) or status >= 500:
                failures.append(f"{method.upper()} {url_name} {day}: {status}")

    assert not failures, "\n".join(failures)


def test_a_filter_day_beyond_the_last_one_is_explained(client, summit, member_factory):
    client.force_login(member_factory(summit, Role.LIAISON).user)

    response = client.get(reverse("outreach:touch_list"), {"until": "9999-12-31"})

    assert response.status_code == 200
    assert f"Choose a day from 1900 to {LATEST_DAY.year}." in response.content.decode()
