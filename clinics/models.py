import zoneinfo
from typing import Any, Self

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from .history import TenantHistoricalRecords
from .phones import PhoneField


class Role(models.TextChoices):
    FRONT_DESK = "front_desk", "Front desk"
    THERAPIST = "therapist", "Therapist"
    LIAISON = "liaison", "Liaison"
    ADMIN = "admin", "Admin"


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a known time zone, e.g. America/Denver.")


class Organization(models.Model):
    """A clinic group: the tenant. Every clinic-owned row points to one.

    Only what identifies the organization lives here: each app keeps its own
    settings in a one-to-one model of its own, edited on the settings page
    through clinics/settings_sections.py.
    """

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True)
    timezone = models.CharField(
        "time zone",
        max_length=64,
        default=settings.TIME_ZONE,
        validators=[validate_timezone],
        help_text="Decides the organization's day: when flags count a day, deadlines and weekly reports.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TenantQuerySet[ModelT: models.Model](models.QuerySet[ModelT]):
    def for_organization(self, organization: Organization) -> Self:
        return self.filter(organization=organization)


class TenantModel(models.Model):
    """Base for every model that belongs to an organization.

    The foreign key is never nullable, so scoping cannot be optional, and its
    index leads every lookup a tenant makes.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class PostalAddress(models.Model):
    """A US street address, shared by clinics and practices."""

    address_line1 = models.CharField("address", max_length=200, blank=True)
    address_line2 = models.CharField("address line 2", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, blank=True, help_text="Two-letter code, e.g. CO.")
    postal_code = models.CharField("ZIP code", max_length=10, blank=True)

    class Meta:
        abstract = True

    @property
    def address(self) -> str:
        locality = ", ".join(p for p in [self.city, f"{self.state} {self.postal_code}".strip()] if p)
        return ", ".join(p for p in [self.address_line1, self.address_line2, locality] if p)


class Clinic(TenantModel, PostalAddress):
    """One location of an organization."""

    name = models.CharField(max_length=200)
    phone = PhoneField(blank=True)
    timezone = models.CharField(
        "time zone",
        max_length=64,
        default=settings.TIME_ZONE,
        validators=[validate_timezone],
        help_text="Used for business days and due times at this location.",
    )
    is_active = models.BooleanField("open", default=True)
    payers: "models.ManyToManyField[Payer, Any]" = models.ManyToManyField(
        "Payer", related_name="clinics", blank=True, help_text="Payers this clinic is in network with."
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="clinics_clinic_unique_name_per_org"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(TenantModel):
    """A user's role in one organization. A user may hold several memberships."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    home_clinic = models.ForeignKey(
        Clinic,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The location this person usually works at; forms default to it.",
    )
    timezone = models.CharField(
        "time zone",
        max_length=64,
        blank=True,
        validators=[validate_timezone],
        help_text="Leave blank to use their home clinic's, or else the organization's.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["user__last_name", "user__first_name", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"], name="clinics_membership_unique_user_per_org"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}, {self.organization})"

    def clean(self) -> None:
        if self.home_clinic is not None and self.home_clinic.organization_id != self.organization_id:
            raise ValidationError({"home_clinic": "Choose a clinic of this organization."})


class PayerCategory(models.TextChoices):
    MEDICARE = "medicare", "Medicare Part B"
    MEDICARE_ADVANTAGE = "medicare_advantage", "Medicare Advantage"
    MEDICAID = "medicaid", "Medicaid"
    COMMERCIAL = "commercial", "Commercial"
    WORKERS_COMP = "workers_comp", "Workers' compensation"
    AUTO_PIP = "auto_pip", "Auto / PIP"
    VA_TRICARE = "va_tricare", "VA Community Care / TRICARE"
    SELF_PAY = "self_pay", "Self-pay"
    OTHER = "other", "Other"


class Payer(TenantModel):
    """An insurer or payment source on the organization's list."""

    name = models.CharField(max_length=200)
    category = models.CharField(max_length=30, choices=PayerCategory.choices)
    is_active = models.BooleanField("in use", default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="clinics_payer_unique_name_per_org"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Population(models.Model):
    """A patient population (sports, geriatric, ...): one shared vocabulary for every organization.

    Practices say which populations they treat and service offerings which
    they serve; fit compares the two.
    """

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    adjective = models.CharField(
        max_length=100, help_text="As in “treats sports patients”: sports, geriatric, …"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# The population vocabulary: (code, name, adjective). Migration 0003 loaded
# the first list; clinics/vocabulary.py adds any missing after every migrate.
DEFAULT_POPULATIONS = [
    ("sports", "Sports", "sports"),
    ("orthopedic", "Orthopedic", "orthopedic"),
    ("post-surgical", "Post-surgical", "post-surgical"),
    ("geriatric", "Geriatric", "geriatric"),
    ("pediatric", "Pediatric", "pediatric"),
    ("womens-health", "Women's health", "women's health"),
    ("neurologic", "Neurologic", "neurologic"),
    ("vestibular", "Dizziness and balance", "dizziness and balance"),
    ("chronic-pain", "Chronic pain", "chronic pain"),
    ("workers-comp", "Workers' compensation", "workers' comp"),
]


class ServiceOffering(TenantModel):
    """A clinical program a clinic offers, e.g. vestibular rehab or pelvic health."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="service_offerings")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    populations = models.ManyToManyField(Population, related_name="+", blank=True)
    is_active = models.BooleanField("offered", default=True)

    class Meta:
        ordering = ["clinic__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "clinic", "name"], name="clinics_offering_unique_name_per_clinic"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.clinic})"

    def clean(self) -> None:
        if self.clinic_id and self.clinic.organization_id != self.organization_id:
            raise ValidationError({"clinic": "Choose a clinic of this organization."})


class ExportStatus(models.TextChoices):
    """Where a file written in the background stands: shared by every export Rapport writes."""

    QUEUED = "queued", "Waiting for the background worker"
    RUNNING = "running", "Writing"
    READY = "ready", "Ready to download"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"


class WorkerClaim(models.Model):
    """A job's claim by the worker that runs it (clinics/jobs.py `JobLease`)."""

    # The run that holds the job: a token, and a lease it renews as it goes.
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Runs that claimed it: a job that stops its worker every time is given up, not retried for ever.
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        abstract = True


class ExportJob(TenantModel, WorkerClaim):
    """A file written in the background for one person and kept until it expires: who asked, how far
    the worker is, and its claim on the work (clinics/exports/jobs.py `ExportFiles`).

    The row outlives its file: once expired, it still says who took data out and when.
    """

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    status = models.CharField(max_length=20, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    # Never served at a URL: downloaded only through the view that checks the organization and role.
    file = models.FileField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    class Meta:
        abstract = True
        ordering = ["-created_at", "-pk"]

    @property
    def is_finished(self) -> bool:
        return self.status in (ExportStatus.READY, ExportStatus.FAILED, ExportStatus.EXPIRED)


class OrganizationExport(ExportJob):
    """One ZIP of everything the organization holds, and how big it was."""

    # Progress: the registry's tables written so far, and their rows.
    tables_total = models.PositiveSmallIntegerField(default=0)
    tables_done = models.PositiveSmallIntegerField(default=0)
    rows_done = models.PositiveBigIntegerField(default=0)
    # The ZIP's size in bytes, once written.
    size = models.PositiveBigIntegerField(default=0)

    class Meta(ExportJob.Meta):
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="clinics_orgexport_org_created"),
            models.Index(fields=["status", "expires_at"], name="clinics_orgexport_status_exp"),
        ]

    def __str__(self) -> str:
        return f"Organization export #{self.pk}"

    @property
    def percent(self) -> int:
        if self.status == ExportStatus.READY:
            return 100
        return min(100, 100 * self.tables_done // self.tables_total) if self.tables_total else 0


class SecuritySettings(models.Model):
    """How an organization's people sign in; made with these defaults the first time it is read.

    Admins always sign in with a second factor (clinics/two_factor.py); this
    asks it of everyone.
    """

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="security_settings"
    )
    require_two_factor = models.BooleanField(
        "require two-factor sign-in for everyone",
        default=False,
        help_text="Admins always sign in with an authenticator app; on, everyone of the organization does.",
    )
    history = TenantHistoricalRecords()

    class Meta:
        verbose_name = "security settings"
        verbose_name_plural = "security settings"

    def __str__(self) -> str:
        return f"Security settings of {self.organization_id}"


class SecondFactorReset(TenantModel):
    """An admin cleared a member's second factor (a lost phone): who, whose, when. Rows are never edited."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reset_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    reset_at = models.DateTimeField()

    class Meta:
        ordering = ["-reset_at", "-pk"]
        indexes = [
            models.Index(fields=["organization", "user", "reset_at"], name="clinics_2fa_reset_org_user"),
        ]

    def __str__(self) -> str:
        return f"Second factor of {self.user_id} reset at {self.reset_at:%Y-%m-%d %H:%M}"
