"""A referral opened from a queue or the filtered list walks on to the next one there, in its order."""

import datetime
from urllib.parse import quote

import pytest
from django.urls import reverse

from referrals.models import Referral, Status

from ..factories import ClinicFactory, ReferralFactory

NOW = datetime.datetime(2026, 11, 24, 17, 0, tzinfo=datetime.UTC)
pytestmark = pytest.mark.usefixtures("pinned")


def referral(organization, hours_ago, **fields):
    return ReferralFactory(
        organization=organization, received_at=NOW - datetime.timedelta(hours=hours_ago), **fields
    )


def detail(referral: Referral, query: str = "") -> str:
    return reverse("referrals:detail", args=[referral.pk]) + (f"?{query}" if query else "")


def test_next_in_a_queue_is_the_next_oldest_of_that_queue(desk, summit):
    oldest, contacted, middle, newest = (
        referral(summit, 30),
        referral(summit, 20, status=Status.CONTACTED),
        referral(summit, 20),
        referral(summit, 2),
    )

    first = desk.get(detail(oldest, "queue=needs_contact"))
    second = desk.get(detail(middle, "queue=needs_contact"))
    last = desk.get(detail(newest, "queue=needs_contact"))

    assert first.context["next_in_queue"] == detail(middle, "queue=needs_contact")
    assert second.context["next_in_queue"] == detail(newest, "queue=needs_contact")
    assert last.context["next_in_queue"] is None
    assert "Last in needs contact: back to the list" in last.content.decode()
    assert contacted.pk not in {oldest.pk, middle.pk, newest.pk}


def test_after_a_move_the_page_offers_the_next_referral_of_the_queue_it_left(desk, summit):
    first, second = referral(summit, 30), referral(summit, 10)
    page = detail(first, "queue=needs_contact")

    response = desk.post(
        reverse("referrals:transition", args=[first.pk]),
        {"to_status": "contacted", "version": first.version, "next": page},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == page
    assert Referral.objects.get(pk=first.pk).status == Status.CONTACTED
    assert response.context["next_in_queue"] == detail(second, "queue=needs_contact")
    assert f'href="{detail(second, "queue=needs_contact")}"' in response.content.decode()


def test_an_attempt_logged_from_a_queue_comes_back_to_it(desk, summit):
    first = referral(summit, 30)
    page = detail(first, "queue=needs_contact")

    response = desk.post(
        reverse("referrals:contact_attempt_log", args=[first.pk]),
        {"method": "call", "outcome": "no_answer", "attempted_at": "2026-11-24T09:45", "next": page},
    )

    assert response.url == page


def test_the_list_walks_on_in_its_own_filter_and_order(desk, summit):
    elsewhere = ClinicFactory(organization=summit)
    newest, skipped, older, oldest = (
        referral(summit, 1, clinic=desk.clinic),
        referral(summit, 2, clinic=elsewhere),
        referral(summit, 3, clinic=desk.clinic),
        referral(summit, 4, clinic=desk.clinic, status=Status.LOST, loss_reason="declined"),
    )
    filters = f"clinic={desk.clinic.pk}&status=received"
    listed = desk.get(reverse("referrals:list"), {"clinic": desk.clinic.pk, "status": "received"})
    carried = f"list={quote(filters, safe='')}"
    assert f'href="{detail(newest, carried)}"' in listed.content.decode().replace("&amp;", "&")

    response = desk.get(detail(newest, carried))

    assert response.context["next_in_queue"] == detail(older, carried)
    assert response.context["origin"].back_url == f"{reverse('referrals:list')}?{filters}"
    assert skipped.pk != oldest.pk


@pytest.mark.parametrize(
    "query",
    ["queue=everything", "list=" + quote("status=received\r\nLocation: x", safe="")],
    ids=["unknown-queue", "line-break"],
)
def test_an_address_that_names_no_list_gets_no_next(desk, summit, query):
    first = referral(summit, 30)
    referral(summit, 10)

    response = desk.get(detail(first, query))

    assert response.status_code == 200
    assert response.context["origin"] is None
    assert response.context["next_in_queue"] is None


def test_a_return_address_off_the_referral_page_is_ignored(desk, summit):
    first = referral(summit, 30)

    response = desk.post(
        reverse("referrals:transition", args=[first.pk]),
        {"to_status": "contacted", "version": first.version, "next": "https://evil.example/"},
    )

    assert response.url == detail(first)


def test_the_queue_links_carry_the_queue_and_never_the_patient(desk, summit):
    first = referral(summit, 30, patient_last_name="Zebrowski")

    page = desk.get(reverse("referrals:queues")).content.decode()

    assert f'href="{detail(first, "queue=needs_contact")}"' in page
    assert "Zebrowski" not in "".join(part for part in page.split('"') if part.startswith("/"))
