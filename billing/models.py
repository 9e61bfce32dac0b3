from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from clinics.models import Clinic, Organization, Payer, TenantModel, WorkerClaim
from physicians.models import ImportStatus
from referrals.models import Referral


class RowSource(models.TextChoices):
    TYPED = "typed", "Typed"
    IMPORTED = "imported", "Imported"
    MIGRATED = "migrated", "Total typed before dated rows"


class ImportKind(models.TextChoices):
    VISITS = "visits", "Visits (charge report)"
    PAYMENTS = "payments", "Payments (payment report)"


class PaymentKind(models.TextChoices):
    PAYER = "payer", "Payer payment"
    PATIENT = "patient", "Patient payment"
    ADJUSTMENT = "adjustment", "Adjustment"


# What counts as collected: money received (a negative amount is a refund or a
# payer's take-back). Adjustments (write-offs, contractual allowances) are
# listed with the payments but are not money collected.
COLLECTED_KINDS = (PaymentKind.PAYER, PaymentKind.PATIENT)


class BillingImport(TenantModel, WorkerClaim):
    """One file of visits or payments exported from the clinic's EMR, with its progress and results."""

    kind = models.CharField(max_length=20, choices=ImportKind.choices)
    file = models.FileField(upload_to="imports/billing/%Y/%m/")
    original_name = models.CharField(max_length=255)
    encoding = models.CharField(max_length=20, blank=True, help_text="Empty: detected from the file.")
    header_signature = models.CharField(max_length=64, blank=True)
    # {Rapport field: column heading}, confirmed by an admin or recognized from an earlier file.
    mapping = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    mapped = models.BooleanField(default=False)
    bytes_total = models.BigIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0)
    # Rows read are checked first, all of them; then rows_applied counts up to rows_read as they are written.
    rows_applied = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    # Of a charge report: the visits its new lines made (the others joined visits already there).
    visits_created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    matched_count = models.PositiveIntegerField(default=0)
    unmatched_count = models.PositiveIntegerField(default=0)
    refused_count = models.PositiveIntegerField(default=0)
    # The first rows of each outcome worth reading: {"line": n, "outcome": "...", "reason": "..."}.
    outcomes = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="billing_import_org_created")]

    def __str__(self) -> str:
        return f"Import #{self.pk} ({self.get_kind_display().lower()})"

    @property
    def percent(self) -> int:
        """Reading and checking the file is the first half; writing the rows the second."""
        if self.status == ImportStatus.SUCCEEDED:
            return 100
        if self.rows_applied:
            return 50 + int(50 * self.rows_applied / max(self.rows_read, 1))
        return int(50 * self.bytes_read / self.bytes_total) if self.bytes_total else 0

    @property
    def is_finished(self) -> bool:
        return self.status in (ImportStatus.SUCCEEDED, ImportStatus.FAILED)


# The composite indexes of visits, payments and charge lines lead with their
# organization: an index of the organization alone would only slow imports.
UNINDEXED_ORGANIZATION = models.ForeignKey(
    Organization, on_delete=models.CASCADE, related_name="+", db_index=False
)


class BillingRow(TenantModel):
    """What visits and payments share: their referral, where they came from, and their key in the EMR."""

    organization = UNINDEXED_ORGANIZATION
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=20, choices=RowSource.choices, default=RowSource.TYPED)
    import_run = models.ForeignKey(
        BillingImport, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Imported rows only, empty for rows typed or migrated: a payment's stable
    # key in the EMR's exports, an imported visit's day (`visit_key`).
    row_key = models.CharField(max_length=80, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    @property
    def source_label(self) -> str:
        if self.source == RowSource.IMPORTED and self.import_run_id:
            return f"Import #{self.import_run_id}"
        return self.get_source_display()


class Visit(BillingRow):
    """One visit attended: its date of service, who treated, what was billed and to whom.

    An imported visit is one referral's day of care at one clinic: the charge
    report's lines of that day (`ChargeLine`, one per CPT code in many
    exports) belong to it, and its codes, billed amount and payer are theirs
    (`billing.lines`). A typed visit has no lines.
    """

    service_date = models.DateField("date of service")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # [{"code": "97110", "units": 2}, …]; units None when the report does not say.
    procedure_codes = models.JSONField("CPT/HCPCS codes", default=list, blank=True)
    billed_amount = models.DecimalField("billed", max_digits=10, decimal_places=2, default=Decimal(0))
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # How many visits the row stands for: 1 for a visit; a total typed before
    # dated rows existed is migrated as one row standing for all its visits.
    visit_count = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["service_date", "pk"]
        indexes = [
            models.Index(fields=["organization", "referral", "service_date"], name="billing_visit_org_ref"),
            models.Index(fields=["organization", "service_date"], name="billing_visit_org_date"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "row_key"],
                condition=~models.Q(row_key=""),
                name="billing_visit_unique_key",
            ),
            models.CheckConstraint(
                condition=models.Q(visit_count=1) | models.Q(source=RowSource.MIGRATED),
                name="billing_visit_counts_one",
                violation_error_message="A visit counts once.",
            ),
        ]

    def __str__(self) -> str:
        return f"Visit #{self.pk}"

    @property
    def codes_display(self) -> str:
        return ", ".join(
            f"{item['code']}×{item['units']}" if item.get("units") else item["code"]
            for item in self.procedure_codes
        )

    def clean(self) -> None:
        for related in ("referral", "clinic", "payer"):
            obj = getattr(self, related, None)
            if obj is not None and obj.organization_id != self.organization_id:
                raise ValidationError({related: "Choose one of your organization's records."})


def visit_key(referral_id: int, service_date: date, clinic_id: int) -> str:
    """An imported visit's key: the charge lines of one referral, day and clinic make one visit.

    billing/apply_postgres.py builds the same text in SQL (`VISIT_KEY_SQL`).
    """
    return f"visit:{referral_id}:{service_date.isoformat()}:{clinic_id}"


class ChargeLine(TenantModel):
    """One line of the EMR's charge report, as the file last had it: codes billed on a visit.

    Many exports list a visit once per CPT code (97110 ×2, 97140, 97530 on
    the same day): each line is kept under its stable key, so a rerun or an
    overlapping file adds nothing twice, and a line first seen in a later
    file joins its visit instead of counting another.
    """

    organization = UNINDEXED_ORGANIZATION
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="lines")
    # The EMR's line id, else a hash of the line's identifying columns (billing/importing.py).
    row_key = models.CharField(max_length=80)
    # A hash of the line as the file last had it: a changed line is updated, an unchanged one left.
    row_fingerprint = models.CharField(max_length=64)
    # The day and clinic the file gave (the visit's, unless corrected by hand since).
    service_date = models.DateField("date of service")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    procedure_codes = models.JSONField("CPT/HCPCS codes", default=list, blank=True)
    billed_amount = models.DecimalField("billed", max_digits=10, decimal_places=2, default=Decimal(0))
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["visit", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "row_key"], name="billing_line_unique_key"),
        ]

    def __str__(self) -> str:
        return f"Charge line #{self.pk}"


class Payment(BillingRow):
    """Money received for a referral's care, or an adjustment to what is owed."""

    paid_on = models.DateField("date")
    amount = models.DecimalField(
        max_digits=10, decimal_places=2, help_text="Negative for a refund or a payer's take-back."
    )
    kind = models.CharField(max_length=20, choices=PaymentKind.choices, default=PaymentKind.PAYER)
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reference = models.CharField(max_length=100, blank=True, help_text="Check, EFT or claim number.")
    # A hash of the row as the file last had it: a rerun tells a row the EMR
    # changed (update it) from one it did not (leave it, even if corrected by hand).
    row_fingerprint = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["paid_on", "pk"]
        indexes = [
            models.Index(fields=["organization", "referral", "paid_on"], name="billing_payment_org_ref"),
            models.Index(fields=["organization", "paid_on"], name="billing_payment_org_date"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "row_key"],
                condition=~models.Q(row_key=""),
                name="billing_payment_unique_key",
            ),
        ]

    def __str__(self) -> str:
        return f"Payment #{self.pk}"

    @property
    def is_collected(self) -> bool:
        return self.kind in COLLECTED_KINDS

    def clean(self) -> None:
        for related in ("referral", "payer"):
            obj = getattr(self, related, None)
            if obj is not None and obj.organization_id != self.organization_id:
                raise ValidationError({related: "Choose one of your organization's records."})


class CorrectionAction(models.TextChoices):
    ADDED = "added", "Added"
    CHANGED = "changed", "Changed"
    REMOVED = "removed", "Removed"


class BillingCorrection(TenantModel):
    """A visit or payment added, changed or removed by hand: what, by whom, when. Never edited.

    `changes` holds {field: [before, after]} as text; the row may since be gone,
    so the correction names it by kind and id rather than by a foreign key.
    """

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="+")
    row_kind = models.CharField(max_length=10, choices=[("visit", "Visit"), ("payment", "Payment")])
    row_id = models.PositiveBigIntegerField()
    # An imported row's key: one removed by hand stays removed when its file is imported again.
    row_key = models.CharField(max_length=80, blank=True)
    action = models.CharField(max_length=10, choices=CorrectionAction.choices)
    changes = models.JSONField(default=dict, blank=True)
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    corrected_at = models.DateTimeField()

    class Meta:
        ordering = ["corrected_at", "pk"]
        indexes = [
            models.Index(fields=["organization", "referral", "corrected_at"], name="billing_corr_org_ref"),
            models.Index(fields=["organization", "row_key"], name="billing_corr_org_key"),
        ]


class ColumnMapping(TenantModel):
    """Which column holds which field, for one organization's reports of one kind and one header shape."""

    kind = models.CharField(max_length=20, choices=ImportKind.choices)
    header_signature = models.CharField(max_length=64)
    mapping = models.JSONField()
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    saved_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind", "header_signature"], name="billing_mapping_unique_shape"
            ),
        ]


class ReviewStatus(models.TextChoices):
    PENDING = "pending", "To review"
    RESOLVED = "resolved", "Matched"
    DISMISSED = "dismissed", "Dismissed"


class ReviewRow(TenantModel):
    """An imported row no referral (or more than one) matched: an admin picks the referral or dismisses it.

    `values` keeps the row as read (patient, dates, amounts), so it can be
    saved once resolved; it holds patient data and is shown only to admins.
    """

    import_run = models.ForeignKey(BillingImport, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=ImportKind.choices)
    line_number = models.PositiveIntegerField()
    row_key = models.CharField(max_length=80)
    values = models.JSONField()
    reason = models.CharField(max_length=200)
    candidate_ids = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=ReviewStatus.choices, default=ReviewStatus.PENDING)
    referral = models.ForeignKey(Referral, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["import_run", "line_number", "pk"]
        indexes = [
            models.Index(fields=["organization", "status", "import_run"], name="billing_review_org_status")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind", "row_key"], name="billing_review_unique_key"
            ),
        ]
