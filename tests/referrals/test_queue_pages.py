"""A long queue: the oldest of each side by side with its count, then a queue of its own page by page."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from referrals.models import ContactMethod, ContactOutcome, Referral, Status
from referrals.services import ContactAttemptFields, contact_attempt_log
from referrals.views import PAGE_SIZE, QUEUE_PREVIEW

from ..factories import ReferralFactory

DENVER = ZoneInfo("America/Denver")
# A Tuesday morning in Denver: Monday 09:00's referrals are due by Tuesday 09:00, so late.
NOW = datetime.datetime(2026, 11, 24, 10, 0, tzinfo=DENVER)
pytestmark = pytest.mark.usefixtures("pinned")


def waiting(desk, count: int, *, received_at: datetime.datetime, status=Status.RECEIVED) -> list[Referral]:
    return [
        ReferralFactory(
            organization=desk.clinic.organization,
            clinic=desk.clinic,
            status=status,
            received_at=received_at + datetime.timedelta(minutes=minute),
        )
        for minute in range(count)
    ]


def numbers(rows) -> list[int]:
    return [row.referral.number for row in rows]


def test_side_by_side_each_queue_shows_its_oldest_and_counts_them_all(desk):
    oldest_first = waiting(desk, QUEUE_PREVIEW + 5, received_at=NOW - datetime.timedelta(days=3))
    booked = waiting(desk, 2, received_at=NOW - datetime.timedelta(days=2), status=Status.SCHEDULED)

    page = desk.get(reverse("referrals:queues"))

    shown = {key: (rows, count) for key, _title, rows, count in page.context["queues"]}
    rows, count = shown["needs_contact"]
    assert (numbers(rows), count) == ([r.number for r in oldest_first[:QUEUE_PREVIEW]], QUEUE_PREVIEW + 5)
    assert (numbers(shown["awaiting_evaluation"][0]), shown["awaiting_evaluation"][1]) == (
        [r.number for r in booked],
        2,
    )
    html = page.content.decode()
    assert f'href="?queue=needs_contact">All {QUEUE_PREVIEW + 5} in needs contact, oldest first</a>' in html
    assert 'href="?queue=awaiting_evaluation"' not in html  # all of it is already shown


def test_one_queue_pages_through_every_referral_oldest_first(desk):
    everyone = waiting(desk, PAGE_SIZE + 3, received_at=NOW - datetime.timedelta(days=3))
    url = reverse("referrals:queues") + "?queue=needs_contact"

    first, second = desk.get(url), desk.get(url + "&page=2")

    [(_, _, first_rows, count)] = first.context["queues"]
    [(_, _, second_rows, _)] = second.context["queues"]
    assert count == PAGE_SIZE + 3
    assert numbers(first_rows) + numbers(second_rows) == [r.number for r in everyone]
    assert f"1–{PAGE_SIZE} of {PAGE_SIZE + 3}" in first.content.decode()
    assert 'href="?queue=needs_contact&amp;page=2"' in first.content.decode()
    # A page past the end shows the last one, not an error.
    assert numbers(desk.get(url + "&page=99").context["queues"][0][2]) == numbers(second_rows)


def test_the_late_page_holds_the_late_referrals_only_and_keeps_its_filter_across_pages(desk):
    # Monday 09:00 onwards is late by Tuesday 10:00; this morning's are not.
    late = waiting(desk, PAGE_SIZE + 1, received_at=datetime.datetime(2026, 11, 23, 9, 0, tzinfo=DENVER))
    waiting(desk, 4, received_at=NOW - datetime.timedelta(hours=2))
    url = reverse("referrals:queues") + "?queue=needs_contact&late=1"

    first, second = desk.get(url), desk.get(url + "&page=2")

    rows = first.context["queues"][0][2] + second.context["queues"][0][2]
    assert numbers(rows) == [r.number for r in late]
    assert all(row.overdue for row in rows)
    assert first.context["queues"][0][3] == PAGE_SIZE + 1
    assert 'href="?queue=needs_contact&amp;late=1&amp;page=2"' in first.content.decode()


def test_marking_one_lost_from_a_later_page_comes_back_to_that_page(desk):
    *_, last = waiting(desk, PAGE_SIZE + 1, received_at=NOW - datetime.timedelta(days=3))
    for hours_ago in (30, 20, 10):
        contact_attempt_log(
            referral=last,
            user=desk.user,
            attempt=ContactAttemptFields(
                method=ContactMethod.CALL,
                outcome=ContactOutcome.NO_ANSWER,
                note="",
                attempted_at=NOW - datetime.timedelta(hours=hours_ago),
            ),
        )

    page = desk.get(reverse("referrals:queues") + "?queue=needs_contact&page=2").content.decode()

    back = "/referrals/queues/?queue=needs_contact&amp;page=2#needs_contact-heading"
    assert f'<input type="hidden" name="next" value="{back}">' in page
