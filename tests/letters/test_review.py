"""Review before sending: the treating therapist or an admin approves; the front desk sends prints."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from clinics.models import Role
from letters.models import LetterStatus
from letters.services import LetterText, letter_approve, letter_mark_sent, letter_update, letters_compose_due
from outbox.models import OutboundEmail
from physicians.models import UpdateChannel

from .records import note

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting(summit, rules, make_physician, make_referral):
    """An evaluation letter to an emailing physician, held for review."""
    rules.review_before_sending = True
    rules.save()
    note(make_referral(make_physician()))
    letters_compose_due(organization=summit)
    from letters.models import Letter

    return Letter.objects.get()


def test_the_treating_therapist_words_and_approves_and_only_then_it_is_emailed(
    client, login, therapist, waiting
):
    login(therapist)
    edit = reverse("letters:edit", args=[waiting.pk])
    assert client.get(reverse("letters:review")).context["page"].paginator.count == 1

    response = client.post(
        edit,
        {
            "findings": "Full knee extension.",
            "plan": "Home program.",
            "note": "Thank you!",
            "version": waiting.version,
        },
    )
    waiting.refresh_from_db()
    assert response.status_code == 302
    assert (waiting.status, waiting.findings, waiting.note) == (
        LetterStatus.REVIEW,
        "Full knee extension.",
        "Thank you!",
    )
    assert not OutboundEmail.objects.exists()

    client.post(
        edit,
        {
            "findings": "Full knee extension.",
            "plan": "Home program.",
            "version": waiting.version,
            "approve": "1",
        },
    )

    waiting.refresh_from_db()
    assert waiting.status == LetterStatus.EMAILED
    assert waiting.approved_by == therapist.user
    assert OutboundEmail.objects.get() == waiting.email
    assert client.get(reverse("letters:review")).context["page"].paginator.count == 0


def test_another_therapist_may_not_approve_but_an_admin_may(summit, member_factory, summit_admin, waiting):
    colleague = member_factory(summit, Role.THERAPIST)

    with pytest.raises(PermissionDenied):
        letter_approve(acting=colleague, letter=waiting)
    letter_approve(acting=summit_admin, letter=waiting)

    waiting.refresh_from_db()
    assert waiting.status == LetterStatus.EMAILED


def test_approving_twice_sends_once(summit_admin, waiting):
    letter_approve(acting=summit_admin, letter=waiting)

    with pytest.raises(ValidationError):
        letter_approve(acting=summit_admin, letter=waiting)
    assert OutboundEmail.objects.count() == 1


def test_an_edit_on_a_stale_copy_is_refused(therapist, waiting):
    letter_update(acting=therapist, letter=waiting, version=waiting.version, text=LetterText(findings="One"))

    with pytest.raises(ValidationError, match="Someone else changed"):
        letter_update(
            acting=therapist, letter=waiting, version=waiting.version, text=LetterText(findings="Two")
        )


def test_the_review_page_shows_how_long_each_letter_waited_and_the_late_ones(
    client, login, summit_admin, waiting
):
    import datetime

    import time_machine

    with time_machine.travel(waiting.created_at + datetime.timedelta(days=3), tick=False):
        login(summit_admin)
        response = client.get(reverse("letters:review"))
        late = client.get(reverse("letters:review") + "?late=1")

    assert b"3\xc2\xa0days" in response.content
    assert late.context["page"].paginator.count == 1


def test_a_letter_approved_to_a_fax_physician_waits_to_be_sent_and_the_front_desk_marks_it_sent(
    client,
    login,
    summit,
    rules,
    summit_admin,
    summit_front_desk,
    make_physician,
    make_referral,
    member_factory,
):
    note(make_referral(make_physician(channel=UpdateChannel.FAX)))
    letters_compose_due(organization=summit)
    from letters.models import Letter

    letter = Letter.objects.get()
    assert letter.status == LetterStatus.TO_SEND

    liaison = member_factory(summit, Role.LIAISON)
    with pytest.raises(PermissionDenied):
        letter_mark_sent(acting=liaison, letter=letter)
    login(summit_front_desk)
    assert client.get(reverse("letters:to_send")).context["page"].paginator.count == 1
    assert client.get(reverse("letters:print", args=[letter.pk])).status_code == 200
    client.post(reverse("letters:mark_sent", args=[letter.pk]))

    letter.refresh_from_db()
    assert (letter.status, letter.sent_by) == (LetterStatus.SENT, summit_front_desk.user)
    assert client.get(reverse("letters:to_send")).context["page"].paginator.count == 0
    response = client.post(reverse("letters:mark_sent", args=[letter.pk]), follow=True)
    assert b"not waiting to be sent" in response.content


def test_a_letter_waiting_days_to_be_sent_is_marked_late(
    client, login, summit, rules, summit_front_desk, make_physician, make_referral
):
    import datetime

    import time_machine

    from letters.models import Letter

    note(make_referral(make_physician(channel=UpdateChannel.FAX)))
    letters_compose_due(organization=summit)
    letter = Letter.objects.get(status=LetterStatus.TO_SEND)

    with time_machine.travel(letter.created_at + datetime.timedelta(days=1), tick=False):
        login(summit_front_desk)
        fresh = client.get(reverse("letters:to_send")).content.decode()
    with time_machine.travel(letter.created_at + datetime.timedelta(days=3), tick=False):
        login(summit_front_desk)
        late = client.get(reverse("letters:to_send")).content.decode()

    assert 'class="text-danger fw-semibold">1\xa0day' not in fresh
    assert "1\xa0day" in fresh
    assert 'class="text-danger fw-semibold">3\xa0days' in late
    assert f"since {letter.created_at:%b} {letter.created_at.day}, {letter.created_at.year}" in late


def test_the_front_desk_cannot_approve(client, login, summit_front_desk, waiting):
    login(summit_front_desk)

    assert client.post(reverse("letters:approve", args=[waiting.pk])).status_code == 403


def test_a_failed_email_waits_in_the_print_queue_too(
    client, login, summit, rules, summit_admin, make_physician, make_referral
):
    note(make_referral(make_physician()))
    letters_compose_due(organization=summit)
    OutboundEmail.objects.update(status="failed")
    login(summit_admin)

    rows = list(client.get(reverse("letters:to_send")).context["page"])

    assert len(rows) == 1
    client.post(reverse("letters:mark_sent", args=[rows[0].pk]))
    rows[0].refresh_from_db()
    assert rows[0].status == LetterStatus.SENT


def test_a_letter_awaiting_review_or_withdrawn_cannot_be_printed(
    client, login, summit_admin, summit_front_desk, waiting
):
    """Printing is how a letter is faxed: a draft the clinic wants reviewed must not go out that way."""
    from audit.models import AccessEvent, AccessKind

    login(summit_front_desk)
    detail = client.get(reverse("letters:detail", args=[waiting.pk]))
    printed = client.get(reverse("letters:print", args=[waiting.pk]), follow=True)

    assert not detail.context["may_print"]
    assert printed.redirect_chain == [(reverse("letters:detail", args=[waiting.pk]), 302)]
    assert "can be printed once it is approved" in printed.content.decode()
    assert not AccessEvent.objects.filter(kind=AccessKind.PRINT).exists()

    login(summit_admin)
    client.post(reverse("letters:withdraw", args=[waiting.pk]))
    waiting.refresh_from_db()
    assert waiting.status == LetterStatus.WITHDRAWN
    withdrawn = client.get(reverse("letters:print", args=[waiting.pk]), follow=True)
    assert "was withdrawn and is not to be sent" in withdrawn.content.decode()
