import unicodedata
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from clinics.history import TenantHistoricalRecords
from clinics.models import Payer, Population, PostalAddress, TenantModel, WorkerClaim
from clinics.phones import PhoneField

from .identifiers import validate_npi
from .search import physician_search_text, practice_search_text
from .taxonomy import taxonomy_label


def search_key(*parts: str) -> str:
    """Lower-case, accent-free text, punctuation kept: how an import recognizes an address (location_key)."""
    text = " ".join(part for part in parts if part)
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).lower().split())


class Stage(models.TextChoices):
    PROSPECT = "prospect", "Prospect"
    FIRST_IMPRESSION = "first_impression", "First impression"
    BUILDING_TRUST = "building_trust", "Building trust"
    MAINTAINING = "maintaining", "Maintaining"
    DORMANT = "dormant", "Dormant"


# Stages of physicians who do not refer yet: the Prospects page ranks these.
NOT_YET_REFERRING = (Stage.PROSPECT, Stage.FIRST_IMPRESSION)


class Tier(models.TextChoices):
    A = "A", "A – core source"
    B = "B", "B – regular source"
    C = "C", "C – occasional source"


class UpdateChannel(models.TextChoices):
    EMAIL = "email", "Email"
    FAX = "fax", "Fax"
    PORTAL = "portal", "Portal / EHR message"
    PHONE = "phone", "Phone call"
    MAIL = "mail", "Letter"


class UpdateRhythm(models.TextChoices):
    AFTER_EVALUATION = "after_evaluation", "After the evaluation"
    EVERY_PROGRESS_NOTE = "progress", "At each progress note"
    AT_DISCHARGE = "discharge", "At discharge"
    MONTHLY = "monthly", "Monthly summary"
    NO_UPDATES = "none", "No routine updates"


class Practice(TenantModel, PostalAddress):
    """A physician group or office that refers patients."""

    name = models.CharField(max_length=200)
    phone = PhoneField(blank=True)
    fax = PhoneField(blank=True)
    website = models.URLField(blank=True)
    populations = models.ManyToManyField(
        Population, related_name="+", blank=True, help_text="The patients this practice mostly treats."
    )
    payers = models.ManyToManyField(Payer, related_name="practices", blank=True)
    notes = models.TextField(blank=True)
    is_active = models.BooleanField("active", default=True)
    # Street address, suite and 5-digit ZIP, normalized: how an import
    # recognizes a practice it has already created.
    location_key = models.CharField(max_length=300, blank=True, editable=False)
    search_text = models.CharField(max_length=400, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "location_key"],
                condition=~Q(location_key=""),
                name="physicians_practice_unique_location_per_org",
            ),
        ]
        indexes = [models.Index(fields=["organization", "name"], name="physicians_practice_org_name")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.location_key = location_key(self.address_line1, self.address_line2, self.postal_code)
        self.search_text = practice_search_text(
            name=self.name, city=self.city, phone=str(self.phone or ""), fax=str(self.fax or "")
        )
        super().save(*args, **kwargs)


def location_key(line1: str, line2: str, postal_code: str) -> str:
    if not line1 or not postal_code:
        return ""
    return search_key(line1, line2, postal_code[:5])


class Physician(TenantModel):
    """A referring provider (MD, DO, NP, PA, DPM, DC, ...), identified by NPI."""

    npi = models.CharField(
        "NPI", max_length=10, blank=True, validators=[validate_npi], help_text="10 digits."
    )
    prefix = models.CharField(max_length=20, blank=True)
    first_name = models.CharField(max_length=100)
    middle_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100)
    credential = models.CharField(max_length=50, blank=True, help_text="MD, DO, NP, PA-C, DPM, DC, …")
    taxonomy_code = models.CharField(
        "specialty", max_length=10, blank=True, help_text="NUCC provider-taxonomy code."
    )
    practices = models.ManyToManyField(Practice, through="Affiliation", related_name="physicians")
    phone = PhoneField(blank=True)
    email = models.EmailField(blank=True)
    update_channel = models.CharField(
        "send updates by", max_length=20, choices=UpdateChannel.choices, default=UpdateChannel.FAX
    )
    update_rhythm = models.CharField(
        "send updates", max_length=20, choices=UpdateRhythm.choices, default=UpdateRhythm.AFTER_EVALUATION
    )
    what_matters = models.TextField(
        "what matters most to them",
        blank=True,
        help_text="Their answer to “What matters most to you about how we care for your patients?”",
    )
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.PROSPECT)
    tier = models.CharField(max_length=1, choices=Tier.choices, default=Tier.C)
    contact_every_days = models.PositiveSmallIntegerField(
        "contact every (days)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Leave blank to use the interval the organization sets for the tier.",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The liaison who looks after this relationship.",
    )
    is_active = models.BooleanField("active", default=True)
    search_text = models.CharField(max_length=400, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "npi"],
                condition=~Q(npi=""),
                name="physicians_physician_unique_npi_per_org",
                violation_error_message="Another physician in your directory has this NPI.",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "last_name", "first_name"], name="physicians_phys_org_name"),
            models.Index(fields=["organization", "stage"], name="physicians_phys_org_stage"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        name = " ".join(part for part in [self.first_name, self.last_name] if part)
        return f"{name}, {self.credential}" if self.credential else name

    @property
    def name_with_npi(self) -> str:
        """The name with the NPI, which tells namesakes apart (the name alone without one)."""
        return f"{self.display_name} (NPI {self.npi})" if self.npi else self.display_name

    @property
    def specialty(self) -> str:
        return taxonomy_label(self.taxonomy_code)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.search_text = physician_search_text(
            first_name=self.first_name,
            middle_name=self.middle_name,
            last_name=self.last_name,
        )
        super().save(*args, **kwargs)


class Affiliation(TenantModel):
    """A physician's place of work; exactly one per physician is primary."""

    physician = models.ForeignKey(Physician, on_delete=models.CASCADE, related_name="affiliations")
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="affiliations")
    is_primary = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["physician", "practice"], name="physicians_affiliation_unique"),
            models.UniqueConstraint(
                fields=["physician"],
                condition=Q(is_primary=True),
                name="physicians_affiliation_one_primary",
            ),
        ]
        indexes = [models.Index(fields=["organization", "practice"], name="physicians_affil_org_practice")]

    def clean(self) -> None:
        if self.practice.organization_id != self.organization_id:
            raise ValidationError({"practice": "Choose a practice of this organization."})


class GatekeeperRole(models.TextChoices):
    REFERRAL_COORDINATOR = "referral_coordinator", "Referral coordinator"
    OFFICE_MANAGER = "office_manager", "Office manager"
    MEDICAL_ASSISTANT = "medical_assistant", "Medical assistant"
    SCHEDULER = "scheduler", "Scheduler"
    OTHER = "other", "Other"


class ContactMethod(models.TextChoices):
    PHONE = "phone", "Phone"
    EMAIL = "email", "Email"
    FAX = "fax", "Fax"
    TEXT = "text", "Text message"
    IN_PERSON = "in_person", "In person"


class Gatekeeper(TenantModel):
    """The person at a practice who actually routes referrals and paperwork."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="gatekeepers")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100, blank=True)
    role = models.CharField(max_length=30, choices=GatekeeperRole.choices)
    phone = PhoneField(blank=True)
    extension = models.CharField(max_length=10, blank=True)
    email = models.EmailField(blank=True)
    preferred_contact = models.CharField(
        "best way to reach them", max_length=20, choices=ContactMethod.choices, default=ContactMethod.PHONE
    )
    notes = models.TextField(blank=True)
    is_active = models.BooleanField("active", default=True)
    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["last_name", "first_name"]
        indexes = [models.Index(fields=["organization", "practice"], name="physicians_gk_org_practice")]

    def __str__(self) -> str:
        return " ".join(part for part in [self.first_name, self.last_name] if part)

    def clean(self) -> None:
        if self.practice_id and self.practice.organization_id != self.organization_id:
            raise ValidationError({"practice": "Choose a practice of this organization."})


class StageChange(TenantModel):
    """One step in a physician's relationship history; rows are never edited."""

    physician = models.ForeignKey(Physician, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=20, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField()
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-changed_at", "-pk"]
        indexes = [
            models.Index(
                fields=["organization", "physician", "-changed_at"], name="physicians_stage_org_phys"
            ),
        ]


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Finished"
    FAILED = "failed", "Failed"


class NppesImport(TenantModel, WorkerClaim):
    """One import of an NPPES Data Dissemination file, with its progress and results."""

    file = models.FileField(upload_to="imports/nppes/%Y/%m/")
    original_name = models.CharField(max_length=255)
    states = models.JSONField(default=list, blank=True)
    taxonomies = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    bytes_total = models.BigIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    invalid_count = models.PositiveIntegerField(default=0)
    practices_created = models.PositiveIntegerField(default=0)
    # The first rows that were refused, each {"line": n, "npi": "...", "reason": "..."}.
    invalid_rows = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="physicians_import_org_created")]

    @property
    def percent(self) -> int:
        if self.status == ImportStatus.SUCCEEDED:
            return 100
        return int(100 * self.bytes_read / self.bytes_total) if self.bytes_total else 0

    @property
    def is_finished(self) -> bool:
        return self.status in (ImportStatus.SUCCEEDED, ImportStatus.FAILED)
