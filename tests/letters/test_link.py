"""The emailed link: signed, expiring, refused when changed, and every opening recorded."""

import datetime
import re

import pytest
import time_machine
from django.core import signing

from letters.models import LetterOpening, LetterStatus
from letters.services import LINK_SALT, letter_link, letters_compose_due

from .records import note

pytestmark = pytest.mark.django_db

SENT = datetime.datetime(2026, 3, 10, 16, 0, tzinfo=datetime.UTC)


@pytest.fixture
def emailed(summit, rules, make_physician, make_referral):
    """An evaluation letter emailed at SENT; returns it and the link's path from the email."""
    with time_machine.travel(SENT, tick=False):
        note(make_referral(make_physician()))
        letters_compose_due(organization=summit)
    from letters.models import Letter

    letter = Letter.objects.get()
    path = re.search(r"https?://[^/]+(/letters/read/\S+/)", letter.email.body_text)[1]
    return letter, path


def test_the_link_opens_the_letter_without_signing_in_and_records_the_opening(client, emailed):
    letter, path = emailed

    with time_machine.travel(SENT + datetime.timedelta(days=2), tick=False):
        response = client.get(path, REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT="Outlook")

    assert response.status_code == 200
    assert b"Maria Lopez" in response.content
    assert {"private", "no-store"} <= set(response["Cache-Control"].replace(",", " ").split())
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    opening = LetterOpening.objects.get()
    assert (opening.letter, opening.ip_address, opening.user_agent) == (letter, "198.51.100.7", "Outlook")
    assert opening.opened_at == SENT + datetime.timedelta(days=2)
    assert opening.organization_id == letter.organization_id


def test_every_opening_is_recorded(client, emailed):
    _, path = emailed

    with time_machine.travel(SENT + datetime.timedelta(hours=1), tick=False):
        for address in ("198.51.100.7", "203.0.113.9", "198.51.100.7"):
            assert client.get(path, REMOTE_ADDR=address).status_code == 200

    assert list(LetterOpening.objects.order_by("pk").values_list("ip_address", flat=True)) == [
        "198.51.100.7",
        "203.0.113.9",
        "198.51.100.7",
    ]


def test_the_link_stops_working_after_the_organizations_days_and_says_so(client, emailed, rules):
    _, path = emailed

    with time_machine.travel(SENT + datetime.timedelta(days=29, hours=23), tick=False):
        assert client.get(path).status_code == 200
    with time_machine.travel(SENT + datetime.timedelta(days=30, seconds=1), tick=False):
        response = client.get(path)

    assert response.status_code == 410
    assert b"This link has expired" in response.content
    assert b"Maria" not in response.content
    assert LetterOpening.objects.count() == 1


def test_a_shorter_setting_applies_to_links_already_sent(client, emailed, rules):
    _, path = emailed
    rules.link_valid_days = 1
    rules.save()

    with time_machine.travel(SENT + datetime.timedelta(days=2), tick=False):
        assert client.get(path).status_code == 410


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # the signature
        lambda token: "x" + token[1:],  # the letter's token
        lambda token: token.split(":")[0],  # no signature at all
        lambda token: "not-a-token",
    ],
)
def test_a_changed_link_answers_a_clear_page_not_an_error(client, emailed, tamper):
    _, path = emailed
    token = path.removeprefix("/letters/read/").removesuffix("/")

    response = client.get(f"/letters/read/{tamper(token)}/")

    assert response.status_code == 404
    assert b"This link is not valid" in response.content
    assert not LetterOpening.objects.exists()


def test_a_link_signed_for_something_else_opens_nothing(client, emailed):
    letter, _ = emailed
    forged = signing.TimestampSigner(salt="outcomes.survey").sign(letter.access_token)

    assert client.get(f"/letters/read/{forged}/").status_code == 404
    assert signing.TimestampSigner(salt=LINK_SALT).unsign(letter_link(letter).rstrip("/").rsplit("/", 1)[1])


def test_a_withdrawn_letter_is_no_longer_shown(client, emailed):
    letter, path = emailed
    letter.status = LetterStatus.WITHDRAWN
    letter.save()

    assert client.get(path).status_code == 404


def test_the_link_is_get_only(client, emailed):
    _, path = emailed

    assert client.post(path).status_code == 405
