from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from outbox.models import EmailStatus, EmailSuppression, OutboundEmail
from outbox.selectors import email_suppressed_addresses
from outbox.services import email_enqueue, email_send_pending

pytestmark = pytest.mark.usefixtures("email_templates")

CONTEXT = {"physician": "O'Brien", "clinic": "Summit PT – Downtown", "program": "vestibular rehab"}


def enqueue(organization, **overrides):
    arguments = {
        "organization": organization,
        "kind": "service_announcement",
        "idempotency_key": "announcement:1:physician:7",
        "to": "obrien@example.com",
        "template": "outbox_test/announcement",
        "context": CONTEXT,
    } | overrides
    return email_enqueue(**arguments)


def test_enqueue_renders_subject_text_and_html(summit):
    email = enqueue(summit)

    assert email.status == EmailStatus.PENDING
    assert email.subject == "New at Summit PT – Downtown: vestibular rehab"
    # Plain text is not HTML: nothing is escaped in it.
    assert email.body_text == "Dear Dr. O'Brien,\n\nSummit PT – Downtown now offers vestibular rehab."
    assert "<p>Dear Dr. O&#x27;Brien,</p>" in email.body_html
    assert email.headers == {}
    assert email.unsubscribe_token == ""


def test_the_subject_holds_only_what_its_template_gives(summit):
    email = enqueue(summit, context={"clinic": "", "program": "", "physician": ""})

    assert email.subject == "New at :"


def test_same_idempotency_key_returns_the_first_row_unchanged(summit):
    first = enqueue(summit)
    second = enqueue(summit, to="someone-else@example.com", context={**CONTEXT, "program": "pelvic health"})

    assert second.pk == first.pk
    assert OutboundEmail.objects.count() == 1
    assert OutboundEmail.objects.get().to_address == "obrien@example.com"


def test_a_key_of_another_organization_is_refused(summit, harbor):
    enqueue(summit)

    with pytest.raises(ValueError, match="another organization"):
        enqueue(harbor)


def test_a_malformed_address_is_refused(summit):
    with pytest.raises(ValidationError):
        enqueue(summit, to="not an address")
    assert not OutboundEmail.objects.exists()


def test_unsubscribe_adds_the_link_and_one_click_headers(summit, settings):
    settings.SITE_URL = "https://rapport.example.org/"

    email = enqueue(summit, unsubscribe=True)

    url = f"https://rapport.example.org/email/unsubscribe/{email.unsubscribe_token}/"
    assert len(email.unsubscribe_token) >= 40
    assert email.headers == {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert f"Unsubscribe: {url}" in email.body_text
    assert f'href="{url}"' in email.body_html
    assert "obrien" not in url


def test_a_suppressed_address_is_recorded_and_never_sent(summit, harbor):
    EmailSuppression.objects.create(organization=summit, address="obrien@example.com")

    email = enqueue(summit, to="OBrien@Example.com", unsubscribe=True)
    email_send_pending()

    assert email.status == EmailStatus.SUPPRESSED
    assert OutboundEmail.objects.get().status == EmailStatus.SUPPRESSED
    assert mail.outbox == []
    # Suppression belongs to the organization it was asked of.
    assert enqueue(harbor, idempotency_key="harbor:1", unsubscribe=True).status == EmailStatus.PENDING


def test_an_email_without_an_unsubscribe_link_is_transactional_and_ignores_suppression(summit):
    EmailSuppression.objects.create(organization=summit, address="obrien@example.com")

    email = enqueue(summit, kind="password_reset")

    assert email.status == EmailStatus.PENDING


def test_suppressed_addresses_are_lower_cased_and_scoped(summit, harbor):
    EmailSuppression.objects.create(organization=summit, address=" Dr.Lee@Example.org ")
    EmailSuppression.objects.create(organization=harbor, address="other@example.org")

    assert list(email_suppressed_addresses(organization=summit)) == ["dr.lee@example.org"]


def test_the_sender_is_woken_once_the_transaction_commits(summit, django_capture_on_commit_callbacks):
    with mock.patch("outbox.tasks.send_pending.delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            enqueue(summit)
        assert not delay.called
        for callback in callbacks:
            callback()

    delay.assert_called_once_with()


def test_a_broker_that_is_down_does_not_fail_the_caller(summit, django_capture_on_commit_callbacks):
    with (
        mock.patch("outbox.tasks.send_pending.delay", side_effect=ConnectionError("broker down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        email = enqueue(summit)

    assert OutboundEmail.objects.get().pk == email.pk


def test_a_suppressed_or_duplicate_email_wakes_no_sender(summit, django_capture_on_commit_callbacks):
    enqueue(summit)
    EmailSuppression.objects.create(organization=summit, address="lee@example.com")

    with django_capture_on_commit_callbacks() as callbacks:
        enqueue(summit)
        enqueue(summit, idempotency_key="other", to="lee@example.com", unsubscribe=True)

    assert callbacks == []
