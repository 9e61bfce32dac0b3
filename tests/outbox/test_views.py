import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinics.models import Role
from outbox.models import EmailStatus

from .factories import OutboundEmailFactory


def test_the_log_lists_the_organizations_email_newest_first(admin_client, summit, harbor):
    older = OutboundEmailFactory(
        organization=summit, subject="Older", created_at=timezone.now().replace(year=2020)
    )
    newer = OutboundEmailFactory(
        organization=summit,
        subject="Newer",
        status=EmailStatus.FAILED,
        attempts=8,
        last_error="SMTPDataError: (554, b'Rejected')",
    )
    OutboundEmailFactory(organization=harbor, subject="Harbor's own")

    response = admin_client.get(reverse("outbox:log"))

    assert response.status_code == 200
    assert [email.pk for email in response.context["page"]] == [newer.pk, older.pk]
    content = response.content.decode()
    assert newer.to_address in content
    assert "SMTPDataError" in content
    assert "Harbor&#x27;s own" not in content


def test_the_log_filters_by_status_and_kind(admin_client, summit):
    failed = OutboundEmailFactory(organization=summit, status=EmailStatus.FAILED, kind="password_reset")
    OutboundEmailFactory(organization=summit, status=EmailStatus.FAILED)
    OutboundEmailFactory(organization=summit, kind="password_reset")

    response = admin_client.get(reverse("outbox:log"), {"status": "failed", "kind": "password_reset"})

    assert [email.pk for email in response.context["page"]] == [failed.pk]
    assert b'<option value="password_reset" selected>Password reset</option>' in response.content


def test_an_unknown_filter_value_shows_everything(admin_client, summit):
    OutboundEmailFactory.create_batch(2, organization=summit)

    response = admin_client.get(reverse("outbox:log"), {"status": "nonsense"})

    assert response.status_code == 200
    assert len(response.context["page"]) == 2


def test_the_logs_query_count_does_not_grow_with_rows(admin_client, summit, django_assert_max_num_queries):
    OutboundEmailFactory(organization=summit)
    admin_client.get(reverse("outbox:log"))  # warm the session
    with CaptureQueriesContext(connection) as one_row:
        admin_client.get(reverse("outbox:log"))
    OutboundEmailFactory.create_batch(29, organization=summit, kind="password_reset")

    with django_assert_max_num_queries(len(one_row)):
        response = admin_client.get(reverse("outbox:log"))

    assert len(response.context["page"]) == 30


def test_the_log_is_paginated(admin_client, summit):
    OutboundEmailFactory.create_batch(51, organization=summit)

    response = admin_client.get(reverse("outbox:log"), {"page": 2})

    assert len(response.context["page"]) == 1


def test_the_detail_shows_headers_text_and_escaped_html(admin_client, summit):
    email = OutboundEmailFactory(
        organization=summit,
        body_html='<p>Hi</p><script>alert("x")</script>',
        headers={"List-Unsubscribe": "<https://rapport.example.org/email/unsubscribe/abc/>"},
    )

    response = admin_client.get(reverse("outbox:detail", kwargs={"email_id": email.pk}))

    content = response.content.decode()
    assert response.status_code == 200
    assert email.body_text in content
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in content
    assert '<script>alert("x")</script>' not in content
    assert "List-Unsubscribe" in content
    assert email.message_id.replace("<", "&lt;").replace(">", "&gt;") in content
    assert b"Retry" not in response.content


@pytest.mark.parametrize("reply_to", ["dana@summitpt.example", ""])
def test_the_detail_shows_reply_to_when_there_is_one(admin_client, summit, reply_to):
    email = OutboundEmailFactory(organization=summit, reply_to=reply_to)

    content = admin_client.get(reverse("outbox:detail", kwargs={"email_id": email.pk})).content.decode()

    assert ("Reply-To" in content) == bool(reply_to)
    assert reply_to in content


def test_the_detail_never_shows_a_confidential_body(admin_client, summit):
    email = OutboundEmailFactory(
        organization=summit,
        kind="password_reset",
        confidential=True,
        body_text="https://x.test/reset/secret/",
    )

    response = admin_client.get(reverse("outbox:detail", kwargs={"email_id": email.pk}))

    assert b"/reset/secret/" not in response.content
    assert b"one-time link" in response.content


def test_retry_from_the_detail_page_requeues_a_failed_email(admin_client, summit):
    email = OutboundEmailFactory(organization=summit, status=EmailStatus.FAILED, attempts=8)
    detail = reverse("outbox:detail", kwargs={"email_id": email.pk})
    assert b"Retry" in admin_client.get(detail).content

    response = admin_client.post(reverse("outbox:retry", kwargs={"email_id": email.pk}), follow=True)

    assert response.redirect_chain[-1][0] == detail
    assert b"Queued again" in response.content
    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.PENDING, 0)


def test_retrying_an_email_that_did_not_fail_says_so(admin_client, summit):
    email = OutboundEmailFactory(organization=summit, status=EmailStatus.SENT)

    response = admin_client.post(reverse("outbox:retry", kwargs={"email_id": email.pk}), follow=True)

    assert b"Only a failed email can be sent again." in response.content
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT


def test_retry_answers_get_with_405(admin_client, summit):
    email = OutboundEmailFactory(organization=summit, status=EmailStatus.FAILED)

    assert admin_client.get(reverse("outbox:retry", kwargs={"email_id": email.pk})).status_code == 405


@pytest.mark.parametrize("url_name", ["outbox:detail", "outbox:retry"])
def test_another_organizations_email_is_404(client, login, summit, harbor_admin, url_name):
    email = OutboundEmailFactory(organization=summit, status=EmailStatus.FAILED)
    login(harbor_admin)

    response = client.post(reverse(url_name, kwargs={"email_id": email.pk}))

    assert response.status_code == 404
    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED
    assert mail.outbox == []


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.THERAPIST, Role.LIAISON])
def test_the_log_is_for_admins_only(client, login, summit, member_factory, role):
    email = OutboundEmailFactory(organization=summit)
    login(member_factory(summit, role))

    assert client.get(reverse("outbox:log")).status_code == 403
    assert client.get(reverse("outbox:detail", kwargs={"email_id": email.pk})).status_code == 403
