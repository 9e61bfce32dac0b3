"""Writes of outcome letters: the sweep composing what is due, delivery, review, sending, the emailed link.

The sweep (`letters_compose_due`, the beat job's service), for one organization:

1. Lock the organization's letter rules row (created first if need be), so
   two sweeps of one organization, two beats or a rerun, queue up instead of
   racing; the second finds the first's letters and composes nothing.
2. Ask the database what is due (`selectors.letters_due`: care notes since
   letters were switched on, last month's summaries, less the keys composed).
3. Compose them (`composition.letters_compose`), decide each one's delivery
   by the physician's channel, and either hold them for review or deliver
   them: email through the outbox, keyed by the letter's key, or the print
   queue.
4. Insert the letters, the referrals they are about and their emails in the
   same transaction. The key is unique per organization, and so is the
   outbox's idempotency key: a worker killed mid-run commits nothing, a
   second run finds the keys taken, and no letter or email is ever made
   twice. The outbox then sends each email exactly once (outbox/services.py).

The emailed link is a signed token (`letter_link`): the letter's random
access token signed with a timestamp, so it expires after the organization's
`link_valid_days` and any change to it is refused. Opening it records when
and from which address (`letter_link_open`).
"""

import datetime
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import formats, timezone

from clinics.inputs import ModelFields
from clinics.links import site_url
from clinics.models import Membership, Organization, Role
from clinics.roles import acts_as
from outbox.models import EmailStatus, OutboundEmail
from outbox.services import EmailToQueue, email_enqueue_many
from physicians.models import Physician, UpdateChannel
from referrals.services import referrals_changed

from . import selectors
from .composition import ComposedLetter, letters_compose
from .models import (
    Delivery,
    Letter,
    LetterKind,
    LetterOpening,
    LetterReferral,
    LetterSettings,
    LetterStatus,
    email_undelivered,
)
from .roles import REVIEWERS, SENDERS

logger = logging.getLogger(__name__)

LINK_SALT = "letters.read"
EMAIL_KIND = "outcome_letter"
EMAIL_TEMPLATE = "letters/email/letter"
USER_AGENT_MAX_LENGTH = 300


@dataclass(frozen=True)
class SweepResult:
    composed: int = 0
    emailed: int = 0
    to_send: int = 0
    to_review: int = 0


def _lock_rules(organization: Organization) -> LetterSettings:
    """The organization's letter rules, locked until the transaction ends: one sweep at a time for it."""
    selectors.letter_settings_get(organization=organization)
    return LetterSettings.objects.select_for_update().get(organization=organization)


@transaction.atomic
def letters_compose_due(*, organization: Organization, now: datetime.datetime | None = None) -> SweepResult:
    """Composes and delivers every letter due now (see the module doc); safe to run twice, or at once."""
    now = now or timezone.now()
    rules = _lock_rules(organization)
    due = selectors.letters_due(organization=organization, rules=rules, now=now)
    if not due:
        return SweepResult()
    composed = letters_compose(organization=organization, due=due, now=now)
    physicians = Physician.objects.for_organization(organization).in_bulk(
        {item.letter.physician_id for item in composed}
    )
    for item in composed:
        item.letter.physician = physicians[item.letter.physician_id]
        letter_plan_delivery(item.letter)
        item.letter.status = LetterStatus.REVIEW
    if not rules.review_before_sending:
        _deliver(organization=organization, rules=rules, letters=[item.letter for item in composed], now=now)
    _insert(organization=organization, composed=composed)
    result = SweepResult(
        composed=len(composed),
        emailed=sum(item.letter.status == LetterStatus.EMAILED for item in composed),
        to_send=sum(item.letter.status == LetterStatus.TO_SEND for item in composed),
        to_review=sum(item.letter.status == LetterStatus.REVIEW for item in composed),
    )
    logger.info(
        "Letters for organization %s: %d composed, %d emailed, %d to send, %d to review",
        organization.pk,
        result.composed,
        result.emailed,
        result.to_send,
        result.to_review,
    )
    return result


def _insert(*, organization: Organization, composed: Sequence[ComposedLetter]) -> None:
    letters = Letter.objects.bulk_create([item.letter for item in composed])
    LetterReferral.objects.bulk_create(
        LetterReferral(organization=organization, letter=letter, referral_id=referral_id)
        for letter, item in zip(letters, composed, strict=True)
        for referral_id in item.referral_ids
    )
    _letters_left([item for item in composed if item.letter.sent_at is not None])


def _letters_left(composed: Sequence[ComposedLetter]) -> None:
    """Tells the figures derived from referrals (analytics' loop-closed rate) which patients' letters left."""
    referrals_changed(referral_ids={referral_id for item in composed for referral_id in item.referral_ids})


def _letter_left(letter: Letter) -> None:
    """The same for one letter that left, its patients read from the database (one query)."""
    referrals_changed(
        referral_ids=set(
            LetterReferral.objects.filter(organization_id=letter.organization_id, letter=letter).values_list(
                "referral_id", flat=True
            )
        )
    )


def letter_plan_delivery(letter: Letter) -> None:
    """Email when the physician asked for it and has an address; otherwise the print queue, saying why.

    Reads `letter.physician` as it is now.
    """
    physician = letter.physician
    letter.channel = physician.update_channel
    if physician.update_channel == UpdateChannel.EMAIL and physician.email:
        letter.delivery, letter.recipient_email, letter.print_reason = Delivery.EMAIL, physician.email, ""
        return
    letter.delivery, letter.recipient_email = Delivery.PRINT, ""
    letter.print_reason = (
        f"{physician.display_name} asked for email but has no email address on file: send it another way, "
        "or add their address to the directory for next time."
        if physician.update_channel == UpdateChannel.EMAIL
        else ""
    )


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=LINK_SALT)


def letter_link(letter: Letter) -> str:
    """The emailed letter's signed, expiring address; its age counts from now."""
    token = _signer().sign(letter.access_token)
    return site_url(reverse("letters:read", kwargs={"token": token}))


def _email_context(letter: Letter, *, rules: LetterSettings, now: datetime.datetime) -> dict[str, Any]:
    """What the email says: the patient by initials and referral date only, and the link to the letter."""
    patient = letter.content.get("patient", {})
    return {
        "organization": letter.organization.name,
        "clinic": letter.content.get("clinic", {}).get("name", ""),
        "physician": letter.physician.display_name,
        "kind": letter.get_kind_display(),
        "monthly": letter.kind == LetterKind.MONTHLY,
        "month": letter.content.get("month", ""),
        "patient_count": len(letter.content.get("patients", [])),
        "initials": patient.get("initials", ""),
        "referred_on": patient.get("referred_on", ""),
        "therapist": letter.signature_name,
        "link": letter_link(letter),
        "expires_on": formats.date_format(
            (now + datetime.timedelta(days=rules.link_valid_days)).date(), "N j, Y"
        ),
    }


def _deliver(
    *, organization: Organization, rules: LetterSettings, letters: Sequence[Letter], now: datetime.datetime
) -> None:
    """Emails the letters to go by email (one outbox call for all) and puts the others in the print queue."""
    emailed = [letter for letter in letters if letter.delivery == Delivery.EMAIL]
    for letter in letters:
        if letter.delivery == Delivery.PRINT:
            letter.status = LetterStatus.TO_SEND
    if not emailed:
        return
    for letter in emailed:
        letter.organization = organization
        letter.access_token = secrets.token_urlsafe(32)
    emails = email_enqueue_many(
        organization=organization,
        kind=EMAIL_KIND,
        template=EMAIL_TEMPLATE,
        messages=[
            EmailToQueue(
                idempotency_key=f"letter:{organization.pk}:{letter.key}",
                to=letter.recipient_email,
                context=_email_context(letter, rules=rules, now=now),
            )
            for letter in emailed
        ],
        # The link opens the letter without signing in: the log never shows it.
        confidential=True,
    )
    for letter, email in zip(emailed, emails, strict=True):
        letter.email, letter.status, letter.sent_at = email, LetterStatus.EMAILED, now


@transaction.atomic
def letters_record_bulk(*, organization: Organization, composed: Sequence[ComposedLetter]) -> int:
    """The bulk path for letters that already have a past (the demo): inserted as they went, in a few queries.

    Each letter comes composed (`composition.letters_compose`), its delivery
    planned (`letter_plan_delivery`) and its status, times and people set.
    The rules the sweep and the services keep are checked: a status its
    delivery allows, one key per organization (the database's constraint).
    An emailed letter's email is recorded in the outbox as sent when the
    letter was (`sent_at`), its body erased as a sent confidential email's
    is: history, never a message to send.
    """
    waiting = {LetterStatus.REVIEW, LetterStatus.WITHDRAWN}
    allowed: dict[str, set[str]] = {
        Delivery.EMAIL: {*waiting, LetterStatus.EMAILED},
        Delivery.PRINT: {*waiting, LetterStatus.TO_SEND, LetterStatus.SENT},
    }
    letters = [item.letter for item in composed]
    for letter in letters:
        if letter.organization_id != organization.pk:
            raise PermissionDenied("A letter of another organization.")
        if letter.status not in allowed[letter.delivery]:
            raise ValidationError(f"A letter delivered by {letter.delivery} cannot be {letter.status}.")
        if letter.status in (LetterStatus.EMAILED, LetterStatus.SENT) and letter.sent_at is None:
            raise ValidationError("A letter that left says when.")
    emailed = [letter for letter in letters if letter.status == LetterStatus.EMAILED]
    if emailed:
        rules = selectors.letter_settings_get(organization=organization)
        for letter in emailed:
            letter.access_token = secrets.token_urlsafe(32)
        emails = email_enqueue_many(
            organization=organization,
            kind=EMAIL_KIND,
            template=EMAIL_TEMPLATE,
            messages=[
                EmailToQueue(
                    idempotency_key=f"letter:{organization.pk}:{letter.key}",
                    to=letter.recipient_email,
                    context=_email_context(letter, rules=rules, now=letter.sent_at or letter.created_at),
                )
                for letter in emailed
            ],
            confidential=True,
        )
        for letter, email in zip(emailed, emails, strict=True):
            letter.email = email
    _insert(organization=organization, composed=composed)
    if emailed:
        # Sent when its letter was: one statement, each email's time read from its letter.
        sent_at = Subquery(Letter.objects.filter(email_id=OuterRef("pk")).values("sent_at")[:1])
        OutboundEmail.objects.filter(pk__in=[letter.email_id for letter in emailed]).update(
            status=EmailStatus.SENT,
            attempts=1,
            body_text="",
            body_html="",
            sent_at=sent_at,
            created_at=sent_at,
            next_attempt_at=sent_at,
        )
    return len(letters)


def may_review(acting: Membership, letter: Letter) -> bool:
    """Admins review every letter; a therapist those whose patient they treat or whose note it reports."""
    if not acts_as(acting, REVIEWERS, organization_id=letter.organization_id):
        return False
    if acting.role == Role.ADMIN:
        return True
    return letter.referral is not None and acting.user_id in (
        letter.therapist_id,
        letter.referral.therapist_id,
    )


def _locked(letter: Letter, version: int | None = None) -> Letter:
    current = (
        Letter.objects.select_for_update(of=("self",))
        .select_related("physician", "referral", "organization")
        .get(pk=letter.pk, organization_id=letter.organization_id)
    )
    if version is not None and current.version != version:
        raise ValidationError("Someone else changed this letter a moment ago; reload it and try again.")
    return current


def _require_review(acting: Membership, letter: Letter) -> None:
    if not may_review(acting, letter):
        raise PermissionDenied("Only the treating therapist or an admin may review this letter.")


@dataclass(frozen=True, kw_only=True)
class LetterText(ModelFields):
    """The parts of a letter a reviewer writes: the rest are facts composed from the referral."""

    findings: str = ""
    plan: str = ""
    note: str = ""


@transaction.atomic
def letter_update(*, acting: Membership, letter: Letter, version: int | None, text: LetterText) -> Letter:
    """Saves a reviewer's wording of a letter that has not left yet."""
    current = _locked(letter, version)
    _require_review(acting, current)
    if current.status not in (LetterStatus.REVIEW, LetterStatus.TO_SEND):
        raise ValidationError("This letter has already left; it can no longer be changed.")
    text.assign_to(current)
    current.version += 1
    current.full_clean(exclude=["organization", "physician", "referral", "email"], validate_constraints=False)
    current.save(update_fields=[*LetterText.names(), "version"])
    return current


@transaction.atomic
def letter_approve(*, acting: Membership, letter: Letter, version: int | None = None) -> Letter:
    """Sends a reviewed letter on its way: emailed now, or into the print queue."""
    current = _locked(letter, version)
    _require_review(acting, current)
    if current.status != LetterStatus.REVIEW:
        raise ValidationError("This letter is not waiting for review any more.")
    now = timezone.now()
    current.approved_by, current.approved_at = acting.user, now
    rules = selectors.letter_settings_get(organization=current.organization)
    # The physician's channel and address as they are now, not as they were when it was composed.
    letter_plan_delivery(current)
    _deliver(organization=current.organization, rules=rules, letters=[current], now=now)
    current.version += 1
    current.save()
    if current.sent_at is not None:
        _letter_left(current)
    return current


@transaction.atomic
def letter_withdraw(*, acting: Membership, letter: Letter) -> Letter:
    """Decides a letter that has not left will not be sent."""
    current = _locked(letter)
    _require_review(acting, current)
    if current.status not in (LetterStatus.REVIEW, LetterStatus.TO_SEND):
        raise ValidationError("This letter has already left.")
    current.status = LetterStatus.WITHDRAWN
    current.version += 1
    current.save(update_fields=["status", "version"])
    return current


@transaction.atomic
def letter_mark_sent(*, acting: Membership, letter: Letter) -> Letter:
    """Records that staff printed and sent a letter (or sent a failed email's letter another way)."""
    if not acts_as(acting, SENDERS, organization_id=letter.organization_id):
        raise PermissionDenied("Your role does not send letters.")
    current = _locked(letter)
    waiting = (
        Letter.objects.filter(pk=current.pk)
        .filter(Q(status=LetterStatus.TO_SEND) | email_undelivered())
        .exists()
    )
    if not waiting:
        raise ValidationError("This letter is not waiting to be sent.")
    current.status, current.sent_at, current.sent_by = LetterStatus.SENT, timezone.now(), acting.user
    current.version += 1
    current.save(update_fields=["status", "sent_at", "sent_by", "version"])
    _letter_left(current)
    return current


@dataclass(frozen=True)
class LinkAnswer:
    """What an emailed link leads to: the letter, or why not ("expired" or "invalid")."""

    letter: Letter | None
    problem: str = ""


def letter_link_open(
    *, token: str, ip_address: str | None, user_agent: str, now: datetime.datetime | None = None
) -> LinkAnswer:
    """The letter a link names if its signature holds and it has not expired; records the opening."""
    signer = _signer()
    try:
        access_token = signer.unsign(token)
    except signing.BadSignature:
        return LinkAnswer(None, "invalid")
    letter = selectors.letter_for_access_token(access_token=access_token)
    if letter is None:
        return LinkAnswer(None, "invalid")
    rules = selectors.letter_settings_get(organization=letter.organization)
    try:
        signer.unsign(token, max_age=datetime.timedelta(days=rules.link_valid_days))
    except signing.SignatureExpired:
        return LinkAnswer(None, "expired")
    LetterOpening.objects.create(
        organization=letter.organization,
        letter=letter,
        opened_at=now or timezone.now(),
        ip_address=ip_address or None,
        user_agent=user_agent[:USER_AGENT_MAX_LENGTH],
    )
    return LinkAnswer(letter)


def letter_settings_update(
    *, organization: Organization, review_before_sending: bool, loop_days: int, link_valid_days: int
) -> LetterSettings:
    rules = selectors.letter_settings_get(organization=organization)
    rules.review_before_sending = review_before_sending
    rules.loop_days = loop_days
    rules.link_valid_days = link_valid_days
    rules.full_clean(exclude=["organization"])
    rules.save(update_fields=["review_before_sending", "loop_days", "link_valid_days"])
    return rules
