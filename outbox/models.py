import hashlib
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clinics.models import TenantModel


class EmailStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed"


def kind_label(kind: str) -> str:
    """“service_announcement” → “Service announcement”."""
    return kind.replace("_", " ").capitalize()


class OutboundEmail(TenantModel):
    """One email, written in the transaction that causes it and sent afterwards by a worker.

    The row is the message's whole life: pending → sending (a sender holds a
    lease on it until `claimed_until`) → sent, or back to pending with a later
    `next_attempt_at` after a transient failure, or failed. A message to an
    address that unsubscribed is recorded as suppressed and never sent.
    """

    kind = models.SlugField(
        max_length=50, db_index=False, help_text="What the email is, e.g. password_reset."
    )
    idempotency_key = models.CharField(max_length=200, unique=True)
    to_address = models.EmailField("to", max_length=254)
    # Where a reply goes instead of the From address: an announcement's
    # replies reach the admin who sent it.
    reply_to = models.EmailField("reply-to", max_length=254, blank=True)
    subject = models.CharField(max_length=998)  # RFC 5322's longest line
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    # The body holds a secret (a sign-in link): the email log never shows it
    # and it is erased once the message has left.
    confidential = models.BooleanField(default=False)
    unsubscribe_token = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20, choices=EmailStatus.choices, default=EmailStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The email log, newest first, optionally by status or kind.
            models.Index(fields=["organization", "-created_at"], name="outbox_email_org_created"),
            models.Index(fields=["organization", "status", "-created_at"], name="outbox_email_org_status"),
            models.Index(fields=["organization", "kind", "-created_at"], name="outbox_email_org_kind"),
            # The sender's sweep crosses organizations, so these two lead with
            # the time: pending rows that are due, and claims whose lease ran
            # out (the sender died mid-send). Partial, so they stay as small
            # as the queue rather than growing with the log.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status=EmailStatus.PENDING),
                name="outbox_email_due",
            ),
            models.Index(
                fields=["claimed_until"],
                condition=Q(status=EmailStatus.SENDING),
                name="outbox_email_lease",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["unsubscribe_token"],
                condition=~Q(unsubscribe_token=""),
                name="outbox_email_unique_unsubscribe_token",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"

    @property
    def kind_label(self) -> str:
        return kind_label(self.kind)

    @property
    def message_id(self) -> str:
        """The Message-ID every attempt carries, so a receiver can recognise a repeat.

        Derived from the idempotency key through a hash: keys may name people
        or carry tokens, and a Message-ID travels with the message.
        """
        digest = hashlib.sha256(self.idempotency_key.encode()).hexdigest()[:40]
        domain = urlsplit(settings.SITE_URL).hostname or "localhost"
        return f"<outbox.{digest}@{domain}>"


class EmailSuppression(TenantModel):
    """An address that asked the organization to stop emailing it."""

    address = models.EmailField(max_length=254, help_text="Stored lower-cased.")
    reason = models.CharField(max_length=100, default="unsubscribed")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "address"], name="outbox_suppression_unique_address_per_org"
            ),
        ]

    def __str__(self) -> str:
        return f"suppression #{self.pk}"

    def save(self, *args, **kwargs) -> None:
        self.address = self.address.strip().lower()
        super().save(*args, **kwargs)
