"""The demo's letter history: real queues and open loops from the first sign-in, and nothing sent twice."""

from collections import Counter

from letters import demo as letters_demo
from letters.models import Letter, LetterKind, LetterStatus
from letters.selectors import letter_settings_get, letters_awaiting_review, letters_to_send, loop_not_closed
from letters.services import letters_compose_due
from outbox.models import EmailStatus, OutboundEmail


def test_every_demo_organization_has_letters_of_every_kind_and_real_queues(demo):
    for slug, organization in demo.items():
        kinds = Counter(Letter.objects.filter(organization=organization).values_list("kind", flat=True))
        assert set(kinds) == set(LetterKind.values), slug
        rules = letter_settings_get(organization=organization)
        assert letters_to_send(organization=organization).exists(), slug
        assert loop_not_closed(organization=organization, rules=rules).exists(), slug
    summit_rules = letter_settings_get(organization=demo["summit"])
    assert summit_rules.review_before_sending
    assert letters_awaiting_review(organization=demo["summit"]).exists()
    assert not letter_settings_get(organization=demo["harbor"]).review_before_sending


def test_demo_emails_name_no_patient_and_are_history_not_messages_to_send(demo):
    emails = OutboundEmail.objects.filter(kind="outcome_letter")
    assert emails.exists()
    assert not emails.exclude(status=EmailStatus.SENT).exists()
    for letter in Letter.objects.filter(status=LetterStatus.EMAILED).select_related("email", "referral")[:50]:
        assert letter.email.body_text == ""
        if letter.referral is not None:
            assert letter.referral.patient_last_name not in letter.email.subject


def test_the_sweep_finds_nothing_due_after_seeding_and_seeding_again_changes_nothing(demo):
    before = Letter.objects.count()

    for organization in demo.values():
        assert letters_compose_due(organization=organization).composed == 0
    letters_demo.seed()

    assert Letter.objects.count() == before
