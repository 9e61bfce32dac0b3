import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from clinics.history import TenantHistoricalRecords
from clinics.models import Clinic, ExportJob, ExportStatus, Organization, Payer, TenantModel
from clinics.phones import PhoneField
from physicians.models import Physician, Practice

from .attachments import DocumentType, document_path, document_type
from .diagnoses import validate_diagnosis_codes


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


class ContactMethod(models.TextChoices):
    CALL = "call", "Call"
    VOICEMAIL = "voicemail", "Voicemail"
    TEXT = "text", "Text message"
    EMAIL = "email", "Email"
    LETTER = "letter", "Letter"


class ContactOutcome(models.TextChoices):
    REACHED = "reached", "Reached the patient"
    LEFT_MESSAGE = "left_message", "Left a message"
    NO_ANSWER = "no_answer", "No answer"
    BUSY = "busy", "Line busy"
    MAILBOX_FULL = "mailbox_full", "Voicemail full"
    WRONG_NUMBER = "wrong_number", "Wrong number"
    NOT_IN_SERVICE = "not_in_service", "Number not in service"
    SENT = "sent", "Sent, no reply yet"
    UNDELIVERABLE = "undeliverable", "Returned or bounced"


# What can come of each way of trying: a letter is never "busy". Reached, for
# a text, an email or a letter, means the patient answered it.
CONTACT_OUTCOMES: dict[str, tuple[str, ...]] = {
    ContactMethod.CALL: (
        ContactOutcome.REACHED,
        ContactOutcome.LEFT_MESSAGE,
        ContactOutcome.NO_ANSWER,
        ContactOutcome.BUSY,
        ContactOutcome.MAILBOX_FULL,
        ContactOutcome.WRONG_NUMBER,
        ContactOutcome.NOT_IN_SERVICE,
    ),
    ContactMethod.VOICEMAIL: (ContactOutcome.LEFT_MESSAGE, ContactOutcome.MAILBOX_FULL),
    ContactMethod.TEXT: (
        ContactOutcome.REACHED,
        ContactOutcome.SENT,
        ContactOutcome.UNDELIVERABLE,
        ContactOutcome.WRONG_NUMBER,
    ),
    ContactMethod.EMAIL: (ContactOutcome.REACHED, ContactOutcome.SENT, ContactOutcome.UNDELIVERABLE),
    ContactMethod.LETTER: (ContactOutcome.REACHED, ContactOutcome.SENT, ContactOutcome.UNDELIVERABLE),
}


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


# What stands for a patient's name once the retention period removed it.
PATIENT_DETAILS_REMOVED = "Patient details removed"


class Referral(TenantModel):
    """One patient sent to the clinic, followed from received to discharged (or lost)."""

    # What staff call the referral: #1, #2… in each organization, handed out by
    # `ReferralCounter`. Addresses keep the primary key.
    number = models.PositiveIntegerField(editable=False)
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
    # Required at intake (blank=False); null only once the retention period removed it.
    patient_birth_date = models.DateField("date of birth", null=True)
    patient_phone = PhoneField("patient phone")
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
    diagnosis_codes = models.JSONField(
        "diagnoses (ICD-10-CM)", default=list, blank=True, validators=[validate_diagnosis_codes]
    )
    body_region = models.CharField(max_length=20, choices=BodyRegion.choices, blank=True)
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    priority = models.CharField(max_length=20, choices=Priority.choices, default=Priority.ROUTINE)
    notes = models.TextField(blank=True)
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    loss_reason = models.CharField(max_length=30, choices=LossReason.choices, blank=True)
    # The first appointment, the evaluation: booked when the referral is
    # scheduled (services.referral_transition), changed by rescheduling, cleared
    # when the referral is lost before it. Its history is AppointmentChange.
    first_appointment_at = models.DateTimeField("first appointment", null=True, blank=True)
    first_appointment_clinic = models.ForeignKey(
        Clinic,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="first appointment at",
    )
    # Derived from the referral's dated visits and payments, never typed: kept in
    # step, in the same transaction as every write to them, by the app that owns them.
    visits_attended = models.PositiveSmallIntegerField(default=0, editable=False)
    billed_amount = models.DecimalField(max_digits=10, decimal_places=2, default=0, editable=False)
    collected_amount = models.DecimalField(max_digits=10, decimal_places=2, default=0, editable=False)
    # When the retention period removed the patient's identifiers (referrals/retention/):
    # the referral, its dates, source, payer, outcomes and amounts stay.
    patient_details_removed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Incremented on every save: an edit made on a stale copy is refused.
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = TenantHistoricalRecords(excluded_fields=["version"])

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [
            # The referral list, newest first: read backwards, it stops after one page.
            models.Index(fields=["organization", "received_at", "id"], name="referrals_org_recv"),
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
            models.UniqueConstraint(
                fields=["organization", "number"], name="referrals_number_unique_per_org"
            ),
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
            models.CheckConstraint(
                condition=models.Q(first_appointment_at__isnull=True, first_appointment_clinic__isnull=True)
                | models.Q(
                    first_appointment_at__isnull=False,
                    first_appointment_clinic__isnull=False,
                    first_appointment_at__gte=models.F("received_at"),
                ),
                name="referrals_first_appointment_complete",
                violation_error_message="A first appointment has a time and a clinic, after receipt.",
            ),
        ]

    def __str__(self) -> str:
        return f"Referral #{self.number}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def patient_full_name(self) -> str:
        if self.patient_details_removed_at is not None:
            return PATIENT_DETAILS_REMOVED
        return f"{self.patient_first_name} {self.patient_last_name}"

    @property
    def patient_short_name(self) -> str:
        """First name and last initial, as lists show a patient."""
        if self.patient_details_removed_at is not None:
            return PATIENT_DETAILS_REMOVED
        return f"{self.patient_first_name} {self.patient_last_name[:1]}."

    @property
    def source_label(self) -> str:
        if self.source_type == SourceType.PHYSICIAN and self.physician is not None:
            return self.physician.display_name
        return self.source_name or self.get_source_type_display()

    def clean(self) -> None:
        for related in ("clinic", "physician", "referring_practice", "payer", "first_appointment_clinic"):
            obj = getattr(self, related, None)
            if obj is not None and obj.organization_id != self.organization_id:
                raise ValidationError({related: "Choose one of your organization's records."})


class ReferralCounter(models.Model):
    """The last referral number an organization handed out: one row each, locked while a number is taken.

    A row of its own, not a column of `ReferralSettings`, so that saving the
    settings page never writes an old count back over a newer one.
    """

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="referral_counter"
    )
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"Referral counter of {self.organization_id}: {self.last_number}"


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


class AppointmentAction(models.TextChoices):
    BOOKED = "booked", "Booked"
    RESCHEDULED = "rescheduled", "Rescheduled"
    CANCELLED = "cancelled", "Cancelled"


class AppointmentChange(TenantModel):
    """One booking, rescheduling or cancellation of a referral's first appointment; rows are never edited.

    `starts_at` and `clinic` are the appointment as booked, or, for a
    cancellation, the one cancelled.
    """

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="appointment_changes")
    action = models.CharField(max_length=20, choices=AppointmentAction.choices)
    starts_at = models.DateTimeField()
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["changed_at", "pk"]
        indexes = [
            models.Index(fields=["organization", "referral", "changed_at"], name="referrals_appt_org_ref"),
        ]


class ContactAttempt(TenantModel):
    """One try at reaching the patient: how, what came of it, a short note, who and when. Never edited.

    The note is about the attempt ("asked to call after 3 pm"), kept in the
    database with the referral and never written to a log.
    """

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="contact_attempts")
    method = models.CharField(max_length=20, choices=ContactMethod.choices, default=ContactMethod.CALL)
    outcome = models.CharField(max_length=20, choices=ContactOutcome.choices)
    note = models.CharField(max_length=200, blank=True)
    attempted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    attempted_at = models.DateTimeField("when")

    class Meta:
        ordering = ["attempted_at", "pk"]
        indexes = [
            models.Index(
                fields=["organization", "referral", "attempted_at"], name="referrals_attempt_org_ref"
            ),
        ]

    @property
    def reached(self) -> bool:
        return self.outcome == ContactOutcome.REACHED


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
        return f"Document #{self.pk} of referral #{self.referral.number}"

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
    history = TenantHistoricalRecords()

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
    """An organization's rules for the pipeline: the contact deadline, giving up on reaching, plans of care.

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
        "plan of care signed within (days of the first treatment day)",
        default=30,
        validators=[MinValueValidator(1)],
        help_text="The evaluation day counts as the first treatment day.",
    )
    poc_certification_days = models.PositiveSmallIntegerField(
        "a certification lasts at most (days)", default=90, validators=[MinValueValidator(1)]
    )
    unreachable_after_attempts = models.PositiveSmallIntegerField(
        "suggest marking lost as unreachable after (attempts)",
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text="Attempts in a row without reaching the patient, after which the referral offers "
        "to be marked lost as unreachable.",
    )
    patient_details_retention_years = models.PositiveSmallIntegerField(
        "keep patient details for (years after discharge or loss)",
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(30)],
        help_text="Then names, date of birth, phone, email, account number, notes and documents are "
        "removed every night; the referral, its dates, source, payer, outcomes and amounts stay, so no "
        "figure changes. "
        "Check your state's medical-record retention rule before shortening it.",
    )
    history = TenantHistoricalRecords()

    class Meta:
        verbose_name = "referral settings"
        verbose_name_plural = "referral settings"

    def __str__(self) -> str:
        return f"Referral settings of {self.organization_id}"

    def validate_together(self) -> None:
        """A plan is signed while it is certified; checked when saved, as the outreach cadences are."""
        signature, certification = self.poc_signature_days, self.poc_certification_days
        if certification < signature:
            raise ValidationError(
                {
                    "poc_signature_days": f"A plan must be signed while it is certified: at most "
                    f"{certification} days, the length of a certification."
                }
            )


class ReferralExport(ExportJob):
    """One CSV export of the referral list: which referrals, and whether the file held patient data."""

    # The list's filters as the list parsed them (ids, ISO dates), and in words for people.
    filters = models.JSONField(default=dict, blank=True)
    filters_description = models.CharField(max_length=500)
    # The zone the list was read in: "received from" a date is a day in that zone.
    time_zone = models.CharField(max_length=64)
    include_patient_data = models.BooleanField(default=False)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)

    class Meta(ExportJob.Meta):
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="referrals_export_org_created"),
            models.Index(fields=["status", "expires_at"], name="referrals_export_status_exp"),
        ]

    def __str__(self) -> str:
        return f"Referral export #{self.pk}"

    @property
    def percent(self) -> int:
        if self.status == ExportStatus.READY:
            return 100
        return min(100, 100 * self.rows_done // self.rows_total) if self.rows_total else 0

    @property
    def list_query(self) -> str:
        """The referral list's query string for these filters: they are stored as the list reads them."""
        return urlencode(self.filters)


class PatientDetailsRemoval(TenantModel):
    """One run that removed patient details past the retention period: when, by whom, which referrals.

    Rows are never edited. `removed_by` is empty for the nightly job.
    """

    removed_at = models.DateTimeField()
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Referrals closed (discharged or lost) before this day lost their patient details.
    closed_before = models.DateField()
    referral_ids = models.JSONField(default=list)
    documents_removed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-removed_at", "-pk"]
        indexes = [
            models.Index(fields=["organization", "-removed_at"], name="referrals_removal_org_at"),
        ]

    def __str__(self) -> str:
        return f"Removal of patient details #{self.pk}"

    @property
    def referral_count(self) -> int:
        return len(self.referral_ids)
