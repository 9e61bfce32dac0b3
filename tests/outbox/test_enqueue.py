from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from outbox.models import EmailStatus, EmailSuppression, OutboundEmail
from outbox.selectors import email_suppressed_addresses
from outbox.services import EmailToQueue, email_enqueue, email_enqueue_many, email_send_pending

from .factories import OutboundEmailFactory

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
    OutboundEmailFactory(organization=summit, idempotency_key="announcement:1:physician:7")
    EmailSuppression.objects.create(organization=summit, address="lee@example.com")

    with django_capture_on_commit_callbacks() as callbacks:
        enqueue(summit)
        enqueue(summit, idempotency_key="other", to="lee@example.com", unsubscribe=True)

    assert callbacks == []


def test_the_sender_is_named_after_the_organization(summit, settings):
    settings.DEFAULT_FROM_EMAIL = "Rapport <rapport@summitpt.example>"
    enqueue(summit)
    email_send_pending()

    (message,) = mail.outbox
    assert message.message()["From"] == "Summit Physical Therapy via Rapport <rapport@summitpt.example>"


def test_reply_to_is_kept_and_sent_as_the_reply_to_header(summit):
    email = enqueue(summit, reply_to=" dana@summitpt.example ")
    email_send_pending()

    assert OutboundEmail.objects.get().reply_to == email.reply_to == "dana@summitpt.example"
    (message,) = mail.outbox
    assert message.reply_to == ["dana@summitpt.example"]
    assert message.message()["Reply-To"] == "dana@summitpt.example"


def test_without_reply_to_replies_go_to_the_sender(summit):
    enqueue(summit)
    email_send_pending()

    (message,) = mail.outbox
    assert message.reply_to == []
    assert message.message()["Reply-To"] is None


def test_a_malformed_reply_to_is_refused(summit):
    with pytest.raises(ValidationError, match="valid email"):
        enqueue(summit, reply_to="dana@summit\nBcc: everyone@example.com")
    assert not OutboundEmail.objects.exists()


def test_the_sender_is_woken_once_per_call_however_many_emails_it_queues(
    summit, django_capture_on_commit_callbacks
):
    with (
        mock.patch("outbox.tasks.send_pending.delay") as delay,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        enqueue_many(summit, count=3, key="announcement:2")

    assert len(callbacks) == 1
    delay.assert_called_once_with()


# Many at once


def messages(count, *, key="announcement:1", domain="example.org"):
    return [
        EmailToQueue(
            idempotency_key=f"{key}:physician:{number}",
            to=f"dr{number}@{domain}",
            context={**CONTEXT, "physician": f"Doe {number}"},
        )
        for number in range(count)
    ]


def enqueue_many(organization, *, count=3, key="announcement:1", **overrides):
    arguments = {
        "organization": organization,
        "kind": "service_announcement",
        "template": "outbox_test/announcement",
        "messages": messages(count, key=key),
        "unsubscribe": True,
    } | overrides
    return email_enqueue_many(**arguments)


def test_enqueue_many_renders_each_message_and_returns_the_rows_in_order(summit):
    emails = enqueue_many(summit, count=3, reply_to="dana@summitpt.example")

    assert [email.idempotency_key for email in emails] == [f"announcement:1:physician:{n}" for n in range(3)]
    assert all(email.pk for email in emails)
    assert {email.pk for email in emails} == set(OutboundEmail.objects.values_list("pk", flat=True))
    assert [email.body_text.splitlines()[0] for email in emails] == [f"Dear Dr. Doe {n}," for n in range(3)]
    assert len({email.unsubscribe_token for email in emails}) == 3
    assert {(email.status, email.reply_to) for email in emails} == {
        (EmailStatus.PENDING, "dana@summitpt.example")
    }
    assert emails[1].headers["List-Unsubscribe"] == f"<{emails[1].body_text.split('Unsubscribe: ')[1]}>"
    assert email_send_pending() == 3


def test_enqueue_many_returns_keys_already_queued_unchanged_and_queues_the_rest(summit):
    queued = enqueue(summit, idempotency_key="announcement:1:physician:1", to="first@example.com")
    repeated = messages(3) + messages(1)

    emails = email_enqueue_many(
        organization=summit,
        kind="service_announcement",
        template="outbox_test/announcement",
        messages=repeated,
    )

    assert [email.idempotency_key for email in emails] == [
        "announcement:1:physician:0",
        "announcement:1:physician:1",
        "announcement:1:physician:2",
        "announcement:1:physician:0",
    ]
    assert emails[1].pk == queued.pk
    assert emails[1].to_address == "first@example.com"
    # A key repeated within one call is queued once, as the first of them.
    assert emails[3] is emails[0]
    assert OutboundEmail.objects.count() == 3


def test_enqueue_many_refuses_a_key_of_another_organization_and_queues_nothing(summit, harbor):
    enqueue(harbor, idempotency_key="announcement:1:physician:2")

    with pytest.raises(ValueError, match="another organization"):
        enqueue_many(summit, count=3)

    assert list(OutboundEmail.objects.values_list("organization", flat=True)) == [harbor.pk]


def test_enqueue_many_records_the_organizations_unsubscribed_addresses_as_suppressed(summit, harbor):
    EmailSuppression.objects.create(organization=summit, address="DR1@example.org")
    EmailSuppression.objects.create(organization=harbor, address="dr2@example.org")

    emails = email_enqueue_many(
        organization=summit,
        kind="service_announcement",
        template="outbox_test/announcement",
        messages=[
            *messages(1),
            EmailToQueue(idempotency_key="upper", to=" Dr1@Example.ORG ", context={}),
            *messages(3)[1:],
        ],
        unsubscribe=True,
    )

    assert [(email.to_address, email.status) for email in emails] == [
        ("dr0@example.org", EmailStatus.PENDING),
        ("Dr1@Example.ORG", EmailStatus.SUPPRESSED),
        ("dr1@example.org", EmailStatus.SUPPRESSED),
        ("dr2@example.org", EmailStatus.PENDING),
    ]


def test_enqueue_many_without_an_unsubscribe_link_ignores_suppression(summit):
    EmailSuppression.objects.create(organization=summit, address="dr0@example.org")

    (email,) = enqueue_many(summit, count=1, unsubscribe=False)

    assert (email.status, email.headers, email.unsubscribe_token) == (EmailStatus.PENDING, {}, "")


def test_enqueue_many_validates_every_message_before_queuing_any(summit):
    bad = [*messages(2), EmailToQueue(idempotency_key="bad", to="not an address", context={})]

    with pytest.raises(ValidationError):
        enqueue_many(summit, messages=bad)

    assert not OutboundEmail.objects.exists()


def test_enqueue_many_queries_do_not_grow_with_messages(summit):
    EmailSuppression.objects.create(organization=summit, address="dr3@example.org")
    enqueue(summit, idempotency_key="announcement:2:physician:0")

    def queries(count, key):
        with CaptureQueriesContext(connection) as captured:
            emails = enqueue_many(summit, count=count, key=key)
        assert len(emails) == count
        return len(captured)

    # Keys already queued, unsubscribed addresses, and the INSERT in a savepoint.
    assert queries(1, "announcement:1") == queries(40, "announcement:2") == 5


def test_a_key_queued_concurrently_returns_that_row_and_queues_the_rest(summit, harbor):
    """Another transaction queued a key after this one looked: the insert falls back to one row at a time."""
    theirs = enqueue(summit, idempotency_key="announcement:1:physician:1", to="theirs@example.com")
    with mock.patch.object(OutboundEmail.objects, "in_bulk", return_value={}):
        emails = enqueue_many(summit, count=3)

    assert [email.pk for email in emails][1] == theirs.pk
    assert emails[1].to_address == "theirs@example.com"
    assert OutboundEmail.objects.count() == 3
    assert all(email.pk for email in emails)

    enqueue(harbor, idempotency_key="announcement:9:physician:0")
    with (
        mock.patch.object(OutboundEmail.objects, "in_bulk", return_value={}),
        pytest.raises(ValueError, match="another organization"),
    ):
        enqueue_many(summit, count=1, key="announcement:9")
