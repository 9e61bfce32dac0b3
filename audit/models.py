"""The access audit trail: who saw which patient's data, when, from where and how.

Events are append-only and chained per organization: each carries `seq`, one
more than the organization's previous event, and `hash`, a SHA-256 over its
own fields and the previous event's hash (`audit/chain.py`). The chain's head
(`ChainHead`, one row per organization) is where the next event takes its
number, under the row's lock, in the same statement that writes the event
(`audit/services.py`). Nothing in Rapport updates or deletes an event except
the retention prune; on PostgreSQL a trigger refuses anything else
(migration 0002).
"""

from typing import Any, NoReturn

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from clinics.models import Organization

GENESIS_HASH = "0" * 64


class AccessKind(models.TextChoices):
    PAGE = "page", "Page"
    DOWNLOAD = "download", "Download"
    EXPORT = "export", "Export"
    API = "api", "API"
    PRINT = "print", "Print"
    SIGN_IN = "sign_in", "Sign-in"
    SIGN_IN_FAILED = "sign_in_failed", "Failed sign-in"
    LOCKOUT = "lockout", "Lockout"
    ROLE_CHANGE = "role_change", "Role or access change"
    SETTINGS_CHANGE = "settings_change", "Settings change"
    PRUNE = "prune", "Retention prune"
    PATIENT_DETAILS_REMOVED = "details_removed", "Patient details removed"


class AppendOnlyError(Exception):
    """An event was about to be changed or deleted: the trail only grows."""


class AccessEvent(models.Model):
    """One response that showed patient data, or one security event (sign-in, role change, ...).

    A list page is one event naming every referral it displayed
    (`AccessEventReferral`); a download, an export, a letter or an email names
    its object in `object_type` and `object_id`. `path_name` is the URL's name
    (`referrals:detail`), never the address itself.
    """

    # No index of its own: every index below begins with it, and at ten million rows each index
    # costs every request's insert.
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+", db_index=False)
    seq = models.PositiveBigIntegerField()
    at = models.DateTimeField()
    # None: Rapport itself (the retention prune), or a physician's signed link to a letter.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    kind = models.CharField(max_length=20, choices=AccessKind.choices)
    path_name = models.CharField(max_length=100, blank=True)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.BigIntegerField(null=True, blank=True)
    # A few words without patient data: "role: liaison, active", "sections: referrals".
    detail = models.CharField(max_length=200, blank=True)
    referral_count = models.PositiveIntegerField(default=0)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "seq"], name="audit_event_org_seq"),
        ]
        indexes = [
            models.Index(fields=["organization", "at"], name="audit_event_org_at"),
            models.Index(fields=["organization", "user", "at"], name="audit_event_org_user_at"),
            models.Index(fields=["organization", "kind", "at"], name="audit_event_org_kind_at"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.seq}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Events are written by `services.access_record` in one statement that
        # also advances the chain; a save() could only be an update or a row
        # outside the chain.
        raise AppendOnlyError("Access events are written by audit.services.access_record only.")

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("Access events cannot be deleted; the retention prune removes old ones.")


class AccessEventReferral(models.Model):
    """One referral an event showed: the index that finds every access to a patient's referral.

    A plain number, not a foreign key: the trail outlives nothing it names,
    and audit sits below referrals. `organization` repeats the event's, so the
    search by patient is one index range (organization, referral, event).
    """

    event = models.ForeignKey(AccessEvent, on_delete=models.PROTECT, related_name="referrals")
    # Indexed as the first column of the index below.
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+", db_index=False)
    referral_id = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["organization", "referral_id", "event"], name="audit_shown_org_ref_event"),
        ]

    def __str__(self) -> str:
        return f"Referral {self.referral_id} in event {self.event_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        raise AppendOnlyError("Access events are written by audit.services.access_record only.")

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("Access events cannot be deleted; the retention prune removes old ones.")


class ChainHead(models.Model):
    """Where an organization's chain stands: its last event's number and hash.

    Its row lock orders the organization's events. After a prune, `anchor_seq`
    and `anchor_hash` name the last event removed, so `audit_verify` checks the
    remaining chain from there.
    """

    organization = models.OneToOneField(Organization, on_delete=models.PROTECT, related_name="+")
    seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    prev_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    anchor_seq = models.PositiveBigIntegerField(default=0)
    anchor_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    pruned_through = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Audit chain of organization {self.organization_id} at #{self.seq}"


class AuditSettings(models.Model):
    """How long an organization keeps its access events."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    retention_years = models.PositiveSmallIntegerField(
        "keep access events for (years)",
        default=6,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="HIPAA asks for six years of security documentation; events older than this are removed "
        "each night, and the removal is itself recorded.",
    )

    class Meta:
        verbose_name_plural = "audit settings"

    def __str__(self) -> str:
        return f"Audit settings of organization {self.organization_id}"
