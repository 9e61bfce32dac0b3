import pytest
from django.core import mail
from django.urls import reverse

from outbox.models import EmailStatus, EmailSuppression
from outbox.services import email_enqueue, email_send_pending, email_unsubscribe

from .factories import OutboundEmailFactory


@pytest.fixture
def announcement(summit, email_templates):
    return email_enqueue(
        organization=summit,
        kind="service_announcement",
        idempotency_key="announcement:1:physician:1",
        to="Dr.Lee@Example.org",
        template="outbox_test/announcement",
        context={"physician": "Lee", "clinic": "Summit PT", "program": "pelvic health"},
        unsubscribe=True,
    )


def unsubscribe_url(email) -> str:
    return reverse("outbox:unsubscribe", kwargs={"token": email.unsubscribe_token})


def test_the_link_names_no_address(announcement):
    url = unsubscribe_url(announcement)

    assert "lee" not in url.lower()
    assert "example" not in url


def test_get_asks_and_changes_nothing(client, announcement):
    """Mail scanners open every link: a GET must never unsubscribe."""
    response = client.get(unsubscribe_url(announcement))

    assert response.status_code == 200
    assert b"Stop email like this one from Summit Physical Therapy" in response.content
    assert "D…@Example.org" in response.content.decode()
    assert not EmailSuppression.objects.exists()


def test_post_from_the_page_unsubscribes(client, announcement, summit):
    response = client.post(unsubscribe_url(announcement))

    assert response.status_code == 200
    assert b"You are unsubscribed" in response.content
    suppression = EmailSuppression.objects.get()
    assert (suppression.organization, suppression.address) == (summit, "dr.lee@example.org")


def test_one_click_post_works_without_a_csrf_token(client_factory, announcement):
    """RFC 8058: the mail provider POSTs List-Unsubscribe=One-Click from its own servers."""
    provider = client_factory(enforce_csrf_checks=True)

    response = provider.post(
        unsubscribe_url(announcement),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert EmailSuppression.objects.filter(address="dr.lee@example.org").exists()


def test_unsubscribing_twice_changes_nothing(client, announcement):
    client.post(unsubscribe_url(announcement))
    response = client.post(unsubscribe_url(announcement))

    assert response.status_code == 200
    assert EmailSuppression.objects.count() == 1


def test_an_unknown_token_is_404(client, announcement):
    assert client.get(reverse("outbox:unsubscribe", kwargs={"token": "no-such-token"})).status_code == 404
    assert client.post(reverse("outbox:unsubscribe", kwargs={"token": "no-such-token"})).status_code == 404
    assert email_unsubscribe(token="no-such-token") is None
    assert email_unsubscribe(token="") is None
    assert not EmailSuppression.objects.exists()


def test_other_methods_are_refused(client, announcement):
    assert client.put(unsubscribe_url(announcement)).status_code == 405


def test_unsubscribing_suppresses_what_is_still_queued_for_that_address(client, announcement, summit, harbor):
    queued = OutboundEmailFactory(
        organization=summit, to_address="dr.lee@example.org", unsubscribe_token="t2"
    )
    password_reset = OutboundEmailFactory(organization=summit, to_address="dr.lee@example.org")
    elsewhere = OutboundEmailFactory(
        organization=harbor, to_address="dr.lee@example.org", unsubscribe_token="t3"
    )

    client.post(unsubscribe_url(announcement))
    email_send_pending()

    for email in (announcement, queued, password_reset, elsewhere):
        email.refresh_from_db()
    assert announcement.status == queued.status == EmailStatus.SUPPRESSED
    assert password_reset.status == elsewhere.status == EmailStatus.SENT
    assert sorted(message.to[0] for message in mail.outbox) == ["dr.lee@example.org"] * 2


def test_a_later_announcement_to_the_address_is_suppressed(client, announcement, summit):
    client.post(unsubscribe_url(announcement))

    later = email_enqueue(
        organization=summit,
        kind="service_announcement",
        idempotency_key="announcement:2:physician:1",
        to="dr.lee@example.org",
        template="outbox_test/announcement",
        context={"physician": "Lee", "clinic": "Summit PT", "program": "dry needling"},
        unsubscribe=True,
    )

    assert later.status == EmailStatus.SUPPRESSED
