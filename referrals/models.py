import re
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from clinics.models import Clinic, Organization, Payer, TenantModel
from physicians.models import Physician, Practice

from .attachments import DocumentType, document_path, document_type


class SourceType(models.TextChoices):
    PHYSICIAN = "physician", "Physician"
    DIRECT_ACCESS = "direct_access", "Direct access (no referral)"
    ATTORNEY = "attorney", "Attorney"
    EMPLOYER = "employer", "Employer"
    PATIENT = "patient", "Another patient"
    OTHER = "other", "Other"


class Channel(models.TextChoices):
    FAX = "fax", "Fax"
    PHONE = "phone", "Phone"
    E_REFERRAL = "e_referral", "E-referral"
    EMAIL = "email", "Email"
    WALK_IN = "walk_in", "Walk-in"
    PORTAL = "portal", "Portal"


class Status(models.TextChoices):
    RECEIVED = "received", "Received"
    CONTACTED = "contacted", "Contacted"
    SCHEDULED = "scheduled", "Scheduled"
    EVALUATED = "evaluated", "Evaluated"
    IN_CARE = "in_care", "In care"
    DISCHARGED = "discharged", "Discharged"
    LOST = "lost", "Lost"


# The pipeline. Steps may be skipped forward (a patient scheduled on the first
# call was never only "contacted"), never backward, except that a lost
# referral can be reopened.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.RECEIVED: frozenset({Status.CONTACTED, Status.SCHEDULED, Status.LOST}),
    Status.CONTACTED: frozenset({Status.SCHEDULED, Status.LOST}),
    Status.SCHEDULED: frozenset({Status.EVALUATED, Status.LOST}),
    Status.EVALUATED: frozenset({Status.IN_CARE, Status.DISCHARGED, Status.LOST}),
    Status.IN_CARE: frozenset({Status.DISCHARGED, Status.LOST}),
    Status.DISCHARGED: frozenset(),
    Status.LOST: frozenset({Status.RECEIVED}),
}
OPEN_STATUSES = (Status.RECEIVED, Status.CONTACTED, Status.SCHEDULED, Status.EVALUATED, Status.IN_CARE)


class LossReason(models.TextChoices):
    UNREACHABLE = "unreachable", "Unreachable"
    DECLINED = "declined", "Patient declined"
    INSURANCE = "insurance", "Insurance not accepted"
    OTHER_PROVIDER = "other_provider", "Chose another provider"
    PHYSICIAN_CANCELLED = "physician_cancelled", "Physician cancelled"
    OTHER = "other", "Other"


class Priority(models.TextChoices):
    ROUTINE = "routine", "Routine"
    URGENT = "urgent", "Urgent"
    POST_OP = "post_op", "Post-op"


class BodyRegion(models.TextChoices):
    CERVICAL = "cervical", "Neck (cervical)"
    THORACIC = "thoracic", "Mid back (thoracic)"
    LUMBAR = "lumbar", "Low back (lumbar)"
    SHOULDER = "shoulder", "Shoulder"
    ELBOW = "elbow", "Elbow"
    WRIST_HAND = "wrist_hand", "Wrist and hand"
    HIP = "hip", "Hip"
    KNEE = "knee", "Knee"
    ANKLE_FOOT = "ankle_foot", "Ankle and foot"
    VESTIBULAR = "vestibular", "Dizziness and balance"
    PELVIC = "pelvic", "Pelvic floor"
    NEUROLOGIC = "neurologic", "Neurologic"
    MULTIPLE = "multiple", "Several regions"
    OTHER = "other", "Other"


ICD10_PATTERN = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")


def normalize_icd10(value: str) -> str:
    """“m5450” → “M54.50”; raises ValidationError for anything that is not ICD-10-CM shaped."""
    code = value.strip().upper().replace(" ", "")
    if "." not in code and len(code) > 3:
        code = f"{code[:3]}.{code[3:]}"
    if not ICD10_PATTERN.match(code):
        raise ValidationError(f"“{value.strip()}” is not an ICD-10-CM code (e.g. M54.50).")
    return code


class Referral(TenantModel):
    """One patient sent to the clinic, followed from received to discharged (or lost)."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    source_type = models.CharField(
        "source", max_length=20, choices=SourceType.choices, default=SourceType.PHYSICIAN
    )
    physician = models.ForeignKey(
        Physician, on_delete=models.PROTECT, null=True, blank=True, related_name="referrals"
    )
    source_name = models.CharField(
        "source name", max_length=200, blank=True, help_text="Who referred, when not a physician."
    )
    # Attribution, taken from the physician at intake (services.referral_create):
    # counts by practice or specialty stay where they were when the physician
    # later moves to another practice, changes specialty or is merged.
    referring_practice = models.ForeignKey(
        Practice,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="referrals",
        verbose_name="referring practice",
        help_text="The physician's primary practice when the referral was received.",
    )
    referring_taxonomy_code = models.CharField(
        "referring specialty",
        max_length=10,
        blank=True,
        help_text="The physician's NUCC specialty code when the referral was received.",
    )
    patient_first_name = models.CharField("patient first name", max_length=100)
    patient_last_name = models.CharField("patient last name", max_length=100)
    patient_birth_date = models.DateField("date of birth")
    patient_phone = models.CharField("patient phone", max_length=30)
    patient_email = models.EmailField("patient email", blank=True)
    # The clinic's own id for the patient in its EMR or practice-management
    # system (MRN, account number): how imported visits and payments find the referral.
    patient_account_number = models.CharField(
        "patient account number",
        max_length=40,
        blank=True,
        help_text="The patient's MRN or account number in your EMR, if known; imports fill it otherwise.",
    )
    received_at = models.DateTimeField("received")
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.FAX)
    diagnosis_codes = models.JSONField("diagnoses (ICD-10-CM)", default=list, blank=True)
    body_region = models.CharField(max_length=20, choices=BodyRegion.choices, blank=True)
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    priority = models.CharField(max_length=20, choices=Priority.choices, default=Priority.ROUTINE)
    notes = models.TextField(blank=True)
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    loss_reason = models.CharField(max_length=30, choices=LossReason.choices, blank=True)
    # Derived from the referral's dated visits and payments, never typed: kept in
    # step, in the same transaction as every write to them, by the app that owns them.
    visits_attended = models.PositiveSmallIntegerField(default=0, editable=False)
    billed_amount = models.DecimalField(max_digits=10, decimal_places=2, default=0, editable=False)
    collected_amount = models.DecimalField(max_digits=10, decimal_places=2, default=0, editable=False)
    # Incremented on every save: an edit made on a stale copy is refused.
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [
            models.Index(fields=["organization", "status", "received_at"], name="referrals_org_status_recv"),
            models.Index(fields=["organization", "physician", "received_at"], name="referrals_org_phys_recv"),
            models.Index(
                fields=["organization", "referring_practice", "received_at"], name="referrals_org_prac_recv"
            ),
            models.Index(
                fields=["organization", "patient_last_name", "patient_birth_date"],
                name="referrals_org_patient",
            ),
            models.Index(fields=["organization", "patient_account_number"], name="referrals_org_account"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(source_type="physician") | models.Q(physician__isnull=False),
                name="referrals_physician_source_names_physician",
                violation_error_message="Choose the referring physician.",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="lost") | ~models.Q(loss_reason=""),
                name="referrals_lost_has_reason",
                violation_error_message="Say why the referral was lost.",
            ),
        ]

    def __str__(self) -> str:
        return f"Referral #{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def source_label(self) -> str:
        if self.source_type == SourceType.PHYSICIAN and self.physician is not None:
            return self.physician.display_name
        return self.source_name or self.get_source_type_display()

    def clean(self) -> None:
        for related in ("clinic", "physician", "referring_practice", "payer"):
            obj = getattr(self, related, None)
            if obj is not None and obj.organization_id != self.organization_id:
                raise ValidationError({related: "Choose one of your organization's records."})


class StatusChange(TenantModel):
    """One move of a referral through the pipeline; rows are never edited."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Status.choices)
    loss_reason = models.CharField(max_length=30, choices=LossReason.choices, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["changed_at", "pk"]
        indexes = [
            models.Index(fields=["organization", "referral", "changed_at"], name="referrals_change_org_ref"),
            models.Index(
                fields=["organization", "to_status", "changed_at"], name="referrals_change_org_status"
            ),
        ]


# What can be corrected about the patient after intake (a wrong digit on a fax).
PATIENT_FIELDS = (
    "patient_first_name",
    "patient_last_name",
    "patient_birth_date",
    "patient_phone",
    "patient_email",
    "patient_account_number",
)


class PatientCorrection(TenantModel):
    """A correction of the patient's details after intake: which fields, by whom, when.

    The values, old or new, are not kept here: the referral holds the current
    ones, and a history of patient data is more patient data to protect.
    """

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="patient_corrections")
    fields = models.JSONField(help_text="Names of the corrected fields.")
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    corrected_at = models.DateTimeField()

    class Meta:
        ordering = ["corrected_at", "pk"]
        indexes = [
            models.Index(fields=["organization", "referral", "corrected_at"], name="referrals_corr_org_ref"),
        ]

    @property
    def field_labels(self) -> list[str]:
        labels = {field.name: str(field.verbose_name) for field in Referral._meta.concrete_fields}
        return [labels[name] for name in self.fields]


class ReferralDocument(TenantModel):
    """One document of a referral: the faxed order, a page faxed later. Typed and named by its content."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="documents")
    file = models.FileField(upload_to=document_path)
    content_type = models.CharField(max_length=50)
    size = models.PositiveIntegerField()
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    added_at = models.DateTimeField()

    class Meta:
        ordering = ["added_at", "pk"]
        indexes = [
            models.Index(fields=["organization", "referral", "added_at"], name="referrals_doc_org_ref"),
        ]

    def __str__(self) -> str:
        return f"Document #{self.pk} of referral #{self.referral_id}"

    @property
    def kind(self) -> DocumentType:
        return document_type(self.content_type)


class PendingDocument(TenantModel):
    """A document attached to an intake form that came back unsaved (a warning, an error), kept server-side.

    The form carries only the random `key`; the referral, once saved, claims
    the document with the key, its uploader and organization, so nobody else
    can. Unclaimed documents are swept after PENDING_DOCUMENT_HOURS.
    """

    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    file = models.FileField(upload_to=document_path)
    content_type = models.CharField(max_length=50)
    size = models.PositiveIntegerField()
    # Shown back on the form ("fax.pdf attached — kept"), never used to store or serve the file.
    original_name = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "uploaded_by"], name="referrals_pending_org_user"),
            models.Index(fields=["created_at"], name="referrals_pending_created"),
        ]


class PlanOfCare(TenantModel):
    """One certification of a patient's plan of care by the physician (Medicare ch. 15 §220.1.3)."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="plans_of_care")
    certifier = models.ForeignKey(
        Physician,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who signs: usually the referring physician.",
    )
    starts_on = models.DateField("first treatment day", help_text="The evaluation counts as the first day.")
    ends_on = models.DateField("certified until")
    sent_on = models.DateField("sent for signature", null=True, blank=True)
    signed_on = models.DateField("signed", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_on", "-pk"]
        indexes = [
            models.Index(fields=["organization", "signed_on", "starts_on"], name="referrals_poc_org_signed"),
            models.Index(fields=["organization", "certifier"], name="referrals_poc_org_certifier"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")),
                name="referrals_poc_ends_after_start",
                violation_error_message="The certification cannot end before it starts.",
            ),
        ]

    def clean(self) -> None:
        if self.certifier_id and self.certifier.organization_id != self.organization_id:
            raise ValidationError({"certifier": "Choose one of your organization's physicians."})
        if self.signed_on and self.sent_on and self.signed_on < self.sent_on:
            raise ValidationError({"signed_on": "It cannot be signed before it was sent."})


class ReferralSettings(models.Model):
    """An organization's rules for the pipeline: the contact deadline and the plan-of-care rules.

    One row per organization, made with these defaults the first time it is
    read (`referrals.selectors.referral_settings_get`).
    """

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="referral_settings"
    )
    contact_sla_business_days = models.PositiveSmallIntegerField(
        "contact new referrals within (business days)",
        default=1,
        validators=[MinValueValidator(1)],
        help_text="A received referral not contacted within this many business days is highlighted.",
    )
    # Medicare's rules (Benefit Policy Manual ch. 15 §220.1.3); many commercial
    # plans differ, hence settings.
    poc_signature_days = models.PositiveSmallIntegerField(
        "plan of care signed within (days of the evaluation)", default=30, validators=[MinValueValidator(1)]
    )
    poc_certification_days = models.PositiveSmallIntegerField(
        "a certification lasts at most (days)", default=90, validators=[MinValueValidator(1)]
    )

    class Meta:
        verbose_name = "referral settings"
        verbose_name_plural = "referral settings"

    def __str__(self) -> str:
        return f"Referral settings of {self.organization_id}"
