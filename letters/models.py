"""Outcome letters: what each referring physician is sent about the patients they referred.

A `Letter` is created once per referral, kind and period (its `key`, unique in
the organization) by the sweep in `services.letters_compose_due`, with its
facts (visits, outcome changes, NPS) frozen as they were when it was
composed, so the page shows what the physician was sent. The free-text parts
(findings, plan, a note) are what a reviewer may edit. `LetterReferral` says
which referrals a letter is about (one, or a month's patients for a monthly
summary): "has the physician heard about this patient" is one join.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clinics.history import TenantHistoricalRecords
from clinics.models import Organization, TenantModel
from outbox.models import EmailStatus, OutboundEmail
from physicians.models import Physician
from referrals.models import Referral


class LetterKind(models.TextChoices):
    EVALUATION = "evaluation", "Evaluation and plan"
    PROGRESS = "progress", "Progress report"
    DISCHARGE = "discharge", "Discharge summary"
    MONTHLY = "monthly", "Monthly summary"


class LetterStatus(models.TextChoices):
    REVIEW = "review", "Awaiting review"
    TO_SEND = "to_send", "To send"
    EMAILED = "emailed", "Emailed"
    SENT = "sent", "Sent"
    WITHDRAWN = "withdrawn", "Not sent"


class Delivery(models.TextChoices):
    EMAIL = "email", "Email with a secure link"
    PRINT = "print", "Printed: fax, letter, portal or phone"


class Letter(TenantModel):
    """One letter to a referring physician, from composition to delivery."""

    kind = models.CharField(max_length=20, choices=LetterKind.choices)
    # Once per referral, kind and period: "evaluation:<referral>", "progress:<care note>",
    # "discharge:<referral>", "monthly:<physician>:<YYYY-MM>". Unique per organization.
    key = models.CharField(max_length=100)
    physician = models.ForeignKey(Physician, on_delete=models.PROTECT, related_name="+")
    # The patient a referral letter is about; none for a monthly summary (see LetterReferral).
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    # The month a monthly summary covers, else the day of the note it reports.
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=20, choices=LetterStatus.choices)
    delivery = models.CharField(max_length=10, choices=Delivery.choices)
    # The physician's "send updates by" when the letter was composed.
    channel = models.CharField(max_length=20)
    # Why a letter the physician wanted by email is printed instead.
    print_reason = models.CharField(max_length=300, blank=True)
    recipient_email = models.EmailField(blank=True)
    # Composed facts, as sent: patient, clinic, visits, outcome changes, NPS (composition.py).
    content = models.JSONField(default=dict)
    findings = models.TextField(blank=True)
    plan = models.TextField(blank=True)
    note = models.TextField("note to the physician", blank=True)
    # Who signs: the therapist who wrote the note, else the referral's therapist.
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    signature_name = models.CharField(max_length=200, blank=True)
    # When what the letter reports happened (the note was recorded, the month ended).
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    # Handed to the outbox (email) or marked sent by staff (print).
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    email = models.ForeignKey(
        OutboundEmail, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The secret the emailed link signs; rotating it revokes every link sent.
    access_token = models.CharField(max_length=64, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="letters_letter_unique_key_per_org"),
            models.UniqueConstraint(
                fields=["access_token"], condition=~Q(access_token=""), name="letters_letter_unique_token"
            ),
            models.CheckConstraint(
                condition=Q(kind=LetterKind.MONTHLY, referral__isnull=True)
                | (~Q(kind=LetterKind.MONTHLY) & Q(referral__isnull=False)),
                name="letters_letter_referral_unless_monthly",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "created_at"], name="letters_org_status_created"),
            models.Index(
                fields=["organization", "physician", "-created_at"], name="letters_org_phys_created"
            ),
            models.Index(fields=["organization", "-created_at"], name="letters_org_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_waiting(self) -> bool:
        return self.status in (LetterStatus.REVIEW, LetterStatus.TO_SEND)

    @property
    def may_be_printed(self) -> bool:
        """Approved (or never needing review) and not withdrawn: a draft must not reach a fax machine."""
        return self.status in (LetterStatus.TO_SEND, LetterStatus.EMAILED, LetterStatus.SENT)


def delivered(prefix: str = "") -> Q:
    """Letters that reached the physician: marked sent by staff, or an email the server accepted.

    `prefix` names the letter from another model ("letter__").
    """
    return Q(**{f"{prefix}status": LetterStatus.SENT}) | Q(
        **{f"{prefix}status": LetterStatus.EMAILED, f"{prefix}email__status": EmailStatus.SENT}
    )


def left_clinic(prefix: str = "") -> Q:
    """Letters that left the clinic: handed to the outbox, or printed and marked sent; `sent_at` says when.

    What the clinic did, whatever the mail server did next (`delivered` adds that).
    """
    return Q(**{f"{prefix}status__in": [LetterStatus.EMAILED, LetterStatus.SENT]})


def email_undelivered(prefix: str = "") -> Q:
    """Emailed letters whose email failed or was suppressed (or left the log): they wait to be sent too."""
    emailed = Q(**{f"{prefix}status": LetterStatus.EMAILED})
    return emailed & (
        Q(**{f"{prefix}email__status__in": [EmailStatus.FAILED, EmailStatus.SUPPRESSED]})
        | Q(**{f"{prefix}email__isnull": True})
    )


class LetterReferral(TenantModel):
    """A referral a letter tells the physician about."""

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="about")
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["letter", "referral"], name="letters_about_unique"),
        ]
        indexes = [models.Index(fields=["organization", "referral"], name="letters_about_org_referral")]


class LetterOpening(TenantModel):
    """One opening of an emailed letter's link: when, and from which address."""

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="openings")
    opened_at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField("address", null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        indexes = [
            models.Index(fields=["organization", "letter", "-opened_at"], name="letters_open_org_letter")
        ]


class LetterSettings(models.Model):
    """An organization's rules for outcome letters; made with these defaults the first time it is read."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="letter_settings"
    )
    review_before_sending = models.BooleanField(
        "review letters before they are sent",
        default=False,
        help_text="Each letter waits for the treating therapist (or an admin) to read, edit and approve it.",
    )
    loop_days = models.PositiveSmallIntegerField(
        "loop not closed after (days)",
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text="An evaluated or discharged patient's physician who has heard nothing for this many days "
        "is listed under Loop not closed.",
    )
    link_valid_days = models.PositiveSmallIntegerField(
        "emailed links work for (days)",
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="After this, the link in a letter's email shows that it has expired.",
    )
    # Letters are composed for what happened from here on, never for the
    # history before letters were switched on (a first sweep would otherwise
    # write to every physician about years of patients).
    letters_since = models.DateTimeField(default=timezone.now, editable=False)
    history = TenantHistoricalRecords()

    class Meta:
        verbose_name = "letter settings"
        verbose_name_plural = "letter settings"

    def __str__(self) -> str:
        return f"Letter settings of {self.organization_id}"
