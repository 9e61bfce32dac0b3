"""Writes of the outbox: queue an email, send what is due, retry a failure, unsubscribe.

How a message leaves (`email_send_pending`), one message at a time:

1. Claim. In a short transaction, take the next due row (pending and due, or
   sending with an expired lease: its sender died mid-send), locked with
   SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL (on SQLite the IMMEDIATE
   transaction already serializes writers), and mark it sending with a fresh
   claim token and a lease of OUTBOX_LEASE_SECONDS. The UPDATE is also
   conditional on the status and token just read, so two senders never both
   win a row. A row whose address has unsubscribed since it was queued (see
   `_suppressed`) is recorded as suppressed instead of claimed.
2. Send, outside any transaction, with a Message-ID derived from the
   idempotency key, so every attempt of one message carries the same one.
3. Record the outcome with UPDATE … WHERE pk = … AND claim_token = …: a sender
   whose lease was taken over changes nothing.

Claiming one message at a time keeps each lease to one SMTP exchange and
strands at most one message per crashed sender until its lease runs out.

What no SMTP client can guarantee: a sender killed after the server accepted
the message but before step 3 committed leaves the row sending, and once the
lease runs out the message is sent again. The repeated Message-ID lets the
receiving system recognise the copy. Likewise an unsubscribe that commits
after a row was claimed cannot stop that one attempt; it stops every later one.
"""

import logging
import secrets
import smtplib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from email import policy as mail_policy
from email.message import EmailMessage
from email.policy import Policy
from email.utils import formataddr, parseaddr
from typing import Any, cast

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, mailers
from django.core.mail.backends.base import BaseEmailBackend
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Lower
from django.template import Context
from django.template.backends.django import Template
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone

from clinics.links import site_url
from clinics.models import Organization

from .models import EmailStatus, EmailSuppression, OutboundEmail
from .selectors import email_suppressed_addresses

logger = logging.getLogger(__name__)

BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)
ERROR_MAX_LENGTH = 2000
# Rows per INSERT when queuing many emails: a few hundred keeps each statement
# well under every backend's limit on parameters.
ENQUEUE_BATCH_SIZE = 500


@dataclass(frozen=True, kw_only=True)
class EmailToQueue:
    """One message for `email_enqueue_many`: its key, its recipient, the context its templates get."""

    idempotency_key: str
    to: str
    context: Mapping[str, Any]


def email_enqueue(
    *,
    organization: Organization,
    kind: str,
    idempotency_key: str,
    to: str,
    template: str,
    context: Mapping[str, Any],
    unsubscribe: bool = False,
    confidential: bool = False,
    reply_to: str = "",
) -> OutboundEmail:
    """Queues one email: `email_enqueue_many` with a single message."""
    (email,) = email_enqueue_many(
        organization=organization,
        kind=kind,
        template=template,
        messages=[EmailToQueue(idempotency_key=idempotency_key, to=to, context=context)],
        unsubscribe=unsubscribe,
        confidential=confidential,
        reply_to=reply_to,
    )
    return email


def email_enqueue_many(
    *,
    organization: Organization,
    kind: str,
    template: str,
    messages: Iterable[EmailToQueue],
    unsubscribe: bool = False,
    confidential: bool = False,
    reply_to: str = "",
) -> list[OutboundEmail]:
    """Queues emails in the caller's transaction; a worker sends them once that commits.

    Renders `<template>_subject.txt` (collapsed to one line), `<template>_body.txt`
    and `<template>_body.html` with each message's context, to which nothing
    is added but `unsubscribe_url` when `unsubscribe` is true. Such an email
    carries List-Unsubscribe headers (RFC 8058 one-click) and is recorded as
    suppressed, never sent, if the address has unsubscribed from the
    organization; an email without an unsubscribe link (a password reset) is
    transactional and always goes. `confidential` marks a body holding a
    secret, such as a sign-in link: the email log never shows it and it is
    erased once sent. `reply_to`, when given, is where replies go instead of
    the From address.

    Returns one row per message, in order. A key already queued returns the
    row queued with it, unchanged (also a key repeated within `messages`); a
    key of another organization is refused with ValueError and nothing is
    queued. Queries do not grow with the number of messages: one reads the
    keys already queued, one the organization's unsubscribed addresses (only
    for email with an unsubscribe link), and the new rows are inserted
    ENQUEUE_BATCH_SIZE at a time. The sender is woken once per call, however
    many emails it queues.
    """
    messages = list(messages)
    # By key: the rows queued before, then also those queued now.
    rows = OutboundEmail.objects.in_bulk(
        {message.idempotency_key for message in messages}, field_name="idempotency_key"
    )
    for email in rows.values():
        _same_organization(email, organization)
    fresh: dict[str, EmailToQueue] = {}
    for message in messages:
        if message.idempotency_key not in rows:
            fresh.setdefault(message.idempotency_key, message)
    if fresh:
        suppressed = set(email_suppressed_addresses(organization=organization)) if unsubscribe else set()
        templates = _EmailTemplates.load(template)
        built = [
            _email_build(
                organization=organization,
                kind=kind,
                message=message,
                templates=templates,
                unsubscribe=unsubscribe,
                suppressed=suppressed,
                confidential=confidential,
                reply_to=reply_to,
            )
            for message in fresh.values()
        ]
        queued = _email_insert(built, organization=organization)
        if any(email.status == EmailStatus.PENDING for email in queued):
            _wake_sender_on_commit()
        rows |= {email.idempotency_key: email for email in queued}
    return [rows[message.idempotency_key] for message in messages]


@dataclass(frozen=True)
class _EmailTemplates:
    subject: Template
    text: Template
    html: Template

    @classmethod
    def load(cls, name: str) -> "_EmailTemplates":
        # Templates of the Django engine (the only one configured), which `_render_text` relies on.
        subject, text, html = (
            cast(Template, get_template(f"{name}_{part}"))
            for part in ("subject.txt", "body.txt", "body.html")
        )
        return cls(subject, text, html)


def _email_build(
    *,
    organization: Organization,
    kind: str,
    message: EmailToQueue,
    templates: _EmailTemplates,
    unsubscribe: bool,
    suppressed: set[str],
    confidential: bool,
    reply_to: str,
) -> OutboundEmail:
    """One new row, rendered and validated, not yet saved."""
    to = message.to.strip()
    email = OutboundEmail(
        organization=organization,
        kind=kind,
        idempotency_key=message.idempotency_key,
        to_address=to,
        reply_to=reply_to.strip(),
        confidential=confidential,
    )
    context = dict(message.context)
    if unsubscribe:
        email.unsubscribe_token = secrets.token_urlsafe(32)
        url = site_url(reverse("outbox:unsubscribe", kwargs={"token": email.unsubscribe_token}))
        context["unsubscribe_url"] = url
        email.headers = {
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        if to.lower() in suppressed:
            email.status = EmailStatus.SUPPRESSED
    email.subject = " ".join(_render_text(templates.subject, context).split())
    email.body_text = _render_text(templates.text, context).strip()
    email.body_html = templates.html.render(context).strip()
    # The organization is an object the caller holds: checking it exists would cost a query per email.
    email.full_clean(exclude=["organization"], validate_unique=False, validate_constraints=False)
    return email


def _email_insert(emails: list[OutboundEmail], *, organization: Organization) -> list[OutboundEmail]:
    """Inserts the new rows; for a key another transaction queued meanwhile, returns that row instead."""
    try:
        with transaction.atomic():
            return OutboundEmail.objects.bulk_create(emails, batch_size=ENQUEUE_BATCH_SIZE)
    except IntegrityError:
        # A concurrent transaction queued one of these keys first. The whole
        # insert was rolled back; each row goes again in its own savepoint.
        return [_email_insert_one(email, organization=organization) for email in emails]


def _email_insert_one(email: OutboundEmail, *, organization: Organization) -> OutboundEmail:
    email.pk = None  # an earlier batch of the rolled-back insert may have set it
    try:
        with transaction.atomic():
            email.save(force_insert=True)
    except IntegrityError:
        return _same_organization(
            OutboundEmail.objects.get(idempotency_key=email.idempotency_key), organization
        )
    return email


def _same_organization(email: OutboundEmail, organization: Organization) -> OutboundEmail:
    if email.organization_id != organization.pk:
        raise ValueError(f"Idempotency key of outbound email {email.pk} belongs to another organization.")
    return email


def _render_text(template: Template, context: Mapping[str, Any]) -> str:
    """Renders a plain-text template without HTML escaping: “O'Brien”, not “O&#x27;Brien”."""
    return template.template.render(Context(context, autoescape=False))


def _wake_sender_on_commit() -> None:
    """Wakes a sender once the caller's transaction commits: once per call, however many emails it queued.

    Robust: a broker that is down must not fail the caller's request; the beat
    sweep sends the email within a minute instead. A second call in the same
    transaction wakes a second sender, which finds nothing left to claim.
    """
    transaction.on_commit(_wake_sender, robust=True)


def _wake_sender() -> None:
    from .tasks import send_pending  # imported here because the task module imports this one

    send_pending.delay()


def email_send_pending(*, limit: int = 100) -> int:
    """Sends up to `limit` due emails (see the module's docstring); returns how many left."""
    sent = 0
    mailer = mailers.default
    try:
        for _ in range(limit):
            email = _email_claim_next()
            if email is None:
                break
            try:
                mailer.open()
            except Exception as error:
                # The server cannot be reached: the rest waits for the next sweep.
                _email_record_failure(email, error)
                break
            try:
                mailer.send_messages([_message(email)])
            except SoftTimeLimitExceeded:
                # The task is out of time: stop without judging this message;
                # its lease runs out and the next sweep sends it.
                raise
            except Exception as error:
                # Whatever went wrong belongs to this message's row; the next
                # one starts on a fresh connection.
                _close_quietly(mailer)
                _email_record_failure(email, error)
            else:
                _email_record_sent(email)
                sent += 1
    finally:
        _close_quietly(mailer)
    if sent:
        logger.info("Sent %d outbound emails", sent)
    return sent


def _suppressed() -> Q:
    """The one rule for whether a row may no longer be sent, as a filter on OutboundEmail.

    Email offering an unsubscribe link goes no more to an address that has
    unsubscribed from the row's organization; transactional email (a password
    reset, which has no such link) is never suppressed. The claim, a retry and
    an unsubscribe apply it to rows already queued; `email_enqueue_many` applies
    it to the rows it queues, from one read of the organization's addresses.
    """
    return ~Q(unsubscribe_token="") & Q(
        Exists(
            EmailSuppression.objects.filter(
                organization_id=OuterRef("organization_id"), address=Lower(OuterRef("to_address"))
            )
        )
    )


def _email_claim_next() -> OutboundEmail | None:
    while True:
        now = timezone.now()
        due = Q(status=EmailStatus.PENDING, next_attempt_at__lte=now) | Q(
            status=EmailStatus.SENDING, claimed_until__lte=now
        )
        with transaction.atomic():
            email = (
                # Locks the message only; its organization comes along for the sender's name.
                OutboundEmail.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("organization")
                .annotate(suppressed=_suppressed())
                .filter(due)
                .order_by("next_attempt_at", "pk")
                .first()
            )
            if email is None:
                return None
            current = OutboundEmail.objects.filter(
                pk=email.pk, status=email.status, claim_token=email.claim_token
            )
            if email.suppressed:
                # Unsubscribed while it waited, or while a sender that died held it.
                current.update(status=EmailStatus.SUPPRESSED, claim_token="", claimed_until=None)
                logger.info("Outbound email %s suppressed when claimed: its address unsubscribed", email.pk)
                continue
            if email.status == EmailStatus.SENDING and email.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
                # Its senders keep dying mid-send: stop handing it to them.
                current.update(
                    status=EmailStatus.FAILED,
                    claim_token="",
                    claimed_until=None,
                    last_error=f"Gave up after {email.attempts} attempts whose sender stopped mid-send.",
                )
                logger.warning("Outbound email %s failed: its senders kept stopping mid-send", email.pk)
                continue
            token = secrets.token_hex(16)
            won = current.update(
                status=EmailStatus.SENDING,
                claim_token=token,
                claimed_until=now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS),
                attempts=F("attempts") + 1,
            )
        if won:
            email.status, email.claim_token, email.attempts = EmailStatus.SENDING, token, email.attempts + 1
            return email


class OutboxMessage(EmailMultiAlternatives):
    """Keeps a long header, such as List-Unsubscribe's URL, readable.

    Python's email package RFC 2047-encodes a header word longer than the
    policy's 78-character line, and no mail client reads a URL out of that.
    RFC 5322 allows lines of up to 998 characters.
    """

    def message(self, *, policy: Policy | None = mail_policy.default) -> EmailMessage:
        return super().message(policy=(policy or mail_policy.default).clone(max_line_length=998))


def _sender(email: OutboundEmail) -> str:
    """DEFAULT_FROM_EMAIL's address under the organization's name, so readers see who wrote."""
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((f"{email.organization.name} via {name or 'Rapport'}", address))


def _message(email: OutboundEmail) -> EmailMultiAlternatives:
    message = OutboxMessage(
        subject=email.subject,
        body=email.body_text,
        from_email=_sender(email),
        to=[email.to_address],
        reply_to=[email.reply_to] if email.reply_to else None,
        headers={**email.headers, "Message-ID": email.message_id},
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    return message


def _email_record_sent(email: OutboundEmail) -> None:
    erase = {"body_text": "", "body_html": ""} if email.confidential else {}
    recorded = OutboundEmail.objects.filter(pk=email.pk, claim_token=email.claim_token).update(
        status=EmailStatus.SENT, sent_at=timezone.now(), claim_token="", claimed_until=None, **erase
    )
    if not recorded:
        logger.warning("Outbound email %s was sent after another sender took over its lease", email.pk)


def _email_record_failure(email: OutboundEmail, error: Exception) -> None:
    permanent = _is_permanent(error)
    if permanent or email.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
        outcome = {"status": EmailStatus.FAILED}
    else:
        wait = min(BACKOFF_FIRST * 2 ** (email.attempts - 1), BACKOFF_MAX)
        outcome = {"status": EmailStatus.PENDING, "next_attempt_at": timezone.now() + wait}
    OutboundEmail.objects.filter(pk=email.pk, claim_token=email.claim_token).update(
        **outcome,
        claim_token="",
        claimed_until=None,
        last_error=f"{type(error).__name__}: {error}"[:ERROR_MAX_LENGTH],
    )
    # Ids and error classes only: the error text can name the recipient.
    logger.warning(
        "Outbound email %s: attempt %d failed with %s; now %s",
        email.pk,
        email.attempts,
        type(error).__name__,
        outcome["status"],
    )


def _is_permanent(error: Exception) -> bool:
    """A refusal no retry can change: recipient or message refused (5xx), or a malformed address.

    A 5xx about our own sender address or credentials is a configuration
    fault, retried like a transient one so that fixing the setting lets the
    queue drain.
    """
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPSenderRefused | smtplib.SMTPAuthenticationError):
        return False
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code >= 500
    return isinstance(error, ValueError)


def _close_quietly(mailer: BaseEmailBackend) -> None:
    try:
        mailer.close()
    except (OSError, smtplib.SMTPException):
        logger.info("Closing the mail connection failed; it is dropped")


@transaction.atomic
def email_retry(*, email: OutboundEmail) -> OutboundEmail:
    """Queues a failed email again, due now and with its full number of attempts.

    One to an address that has unsubscribed since is recorded as suppressed
    instead, and returned with that status.
    """
    failed = OutboundEmail.objects.filter(pk=email.pk, status=EmailStatus.FAILED)
    if failed.filter(_suppressed()).update(status=EmailStatus.SUPPRESSED):
        email.refresh_from_db()
        return email
    if not failed.update(status=EmailStatus.PENDING, next_attempt_at=timezone.now(), attempts=0):
        raise ValidationError("Only a failed email can be sent again.")
    _wake_sender_on_commit()
    email.refresh_from_db()
    return email


@transaction.atomic
def email_unsubscribe(*, token: str) -> EmailSuppression | None:
    """Stops the organization's opt-out email to the address `token` was sent to; None for an unknown token.

    What is still queued or failed to that address, and offers an unsubscribe
    link, is suppressed too. Repeating it changes nothing.
    """
    email = OutboundEmail.objects.filter(unsubscribe_token=token).exclude(unsubscribe_token="").first()
    if email is None:
        return None
    address = email.to_address.lower()
    suppression, created = EmailSuppression.objects.get_or_create(
        organization_id=email.organization_id, address=address
    )
    # A row being sent right now is left to its sender; if that sender dies,
    # the next claim suppresses it.
    OutboundEmail.objects.filter(
        _suppressed(),
        organization_id=email.organization_id,
        to_address__iexact=address,
        status__in=[EmailStatus.PENDING, EmailStatus.FAILED],
    ).update(status=EmailStatus.SUPPRESSED)
    if created:
        logger.info("Suppression %s recorded from outbound email %s", suppression.pk, email.pk)
    return suppression


# What an erased email's recipient reads as: the row stays, so the email log still counts it.
ERASED_ADDRESS = ""


def emails_erase(*, organization: Organization, idempotency_keys: Iterable[str]) -> int:
    """Erases the recipient and bodies of the organization's emails with these keys; returns how many.

    For a patient's details removed after the retention period: the row
    stays (its kind, subject, dates and status, which name no patient) so
    the email log and its counts do not change. An email not sent yet is
    cancelled, as it has no one left to go to.
    """
    emails = OutboundEmail.objects.filter(
        organization=organization, idempotency_key__in=list(idempotency_keys)
    )
    emails.filter(status__in=[EmailStatus.PENDING, EmailStatus.FAILED]).update(status=EmailStatus.SUPPRESSED)
    return emails.update(to_address=ERASED_ADDRESS, reply_to="", body_text="", body_html="", headers={})
