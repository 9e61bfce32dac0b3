import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.template.defaultfilters import pluralize

from clinics.clock import organization_today
from clinics.history import TenantHistoricalRecords
from clinics.models import Organization, TenantModel
from physicians.models import Affiliation, Gatekeeper, Physician, Practice


class TouchKind(models.TextChoices):
    OFFICE_VISIT = "office_visit", "Office visit"
    LUNCH = "lunch", "Lunch"
    CALL = "call", "Call"
    EMAIL = "email", "Email"
    LETTER = "letter", "Letter"
    IN_SERVICE = "in_service", "In-service"
    EVENT = "event", "Event"
    GIFT = "gift", "Gift"
    SERVICE_ANNOUNCEMENT = "service_announcement", "Service announcement"


# A broadcast reaches a source but is not a relationship: it is kept in the
# history and never counts as the contact a cadence asks for.
NOT_CONTACT_KINDS = (TouchKind.SERVICE_ANNOUNCEMENT,)
# How a next step is usually taken. A follow-up from a lunch, a gift or an
# event is rarely another one: it is a call, an email or a visit.
FOLLOW_UP_KINDS = (TouchKind.CALL, TouchKind.EMAIL, TouchKind.OFFICE_VISIT, TouchKind.LETTER)
FOLLOW_UP_KINDS_OFFERED = 3


class TouchOutcome(models.TextChoices):
    POSITIVE = "positive", "Went well"
    NEUTRAL = "neutral", "Neutral"
    CONCERN = "concern", "Concern raised"
    NOT_REACHED = "not_reached", "Did not reach them"


class Touch(TenantModel):
    """One outreach contact with a physician, a practice and/or a gatekeeper; rows are history."""

    physician = models.ForeignKey(
        Physician, on_delete=models.CASCADE, null=True, blank=True, related_name="touches"
    )
    practice = models.ForeignKey(
        Practice, on_delete=models.CASCADE, null=True, blank=True, related_name="touches"
    )
    gatekeeper = models.ForeignKey(
        Gatekeeper, on_delete=models.CASCADE, null=True, blank=True, related_name="touches"
    )
    kind = models.CharField(max_length=30, choices=TouchKind.choices)
    occurred_at = models.DateTimeField("when")
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who made the contact.",
    )
    # Who entered it: a liaison's call is often logged by a colleague or the
    # front desk, and a mistake must be traceable to (and removable by) them.
    logged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who logged it in Rapport.",
    )
    notes = models.TextField(blank=True, help_text="About the relationship only: no patient details.")
    outcome = models.CharField(max_length=20, choices=TouchOutcome.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(physician__isnull=False)
                | Q(practice__isnull=False)
                | Q(gatekeeper__isnull=False),
                name="outreach_touch_has_someone",
                violation_error_message="Choose a physician, a practice or a gatekeeper.",
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "physician", "-occurred_at"], name="outreach_touch_org_phys"
            ),
            models.Index(
                fields=["organization", "practice", "-occurred_at"], name="outreach_touch_org_practice"
            ),
            models.Index(fields=["organization", "-occurred_at"], name="outreach_touch_org_when"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} with {self.with_whom}"

    @property
    def with_whom(self) -> str:
        return " · ".join(str(party) for party in (self.physician, self.gatekeeper, self.practice) if party)

    def clean(self) -> None:
        errors = {}
        for field in ("physician", "practice", "gatekeeper"):
            party = getattr(self, field)
            if party is not None and party.organization_id != self.organization_id:
                errors[field] = f"Choose a {field} of this organization."
        if errors:
            raise ValidationError(errors)
        if (
            self.gatekeeper is not None
            and self.practice_id
            and self.gatekeeper.practice_id != self.practice_id
        ):
            raise ValidationError({"gatekeeper": "This gatekeeper works at another practice."})
        # A touch's practice renews contact for every physician whose primary
        # practice it is (outreach.flags), so it must be a place the physician works.
        if (
            self.physician_id
            and self.practice_id
            and not Affiliation.objects.filter(
                organization_id=self.organization_id,
                physician_id=self.physician_id,
                practice_id=self.practice_id,
            ).exists()
        ):
            if self.gatekeeper_id:
                raise ValidationError(
                    {
                        "gatekeeper": f"{self.physician} does not work at {self.gatekeeper}’s practice; "
                        "log the physician and the gatekeeper as two touches."
                    }
                )
            raise ValidationError(
                {
                    "practice": f"{self.physician} does not work at this practice; choose one of their "
                    "practices or leave the practice empty."
                }
            )


class FollowUp(TenantModel):
    """The next step a touch calls for, owned by one person until done."""

    touch = models.OneToOneField(Touch, on_delete=models.CASCADE, related_name="follow_up")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    due_on = models.DateField("follow up on")
    note = models.CharField(max_length=300, blank=True)
    snoozed_from = models.DateField(null=True, blank=True, help_text="The first due date, if snoozed.")
    completed_at = models.DateTimeField(null=True, blank=True)
    # The touch logged from this follow-up once it was done, so it is offered
    # once; removing that touch (a mistake) offers it again.
    logged_touch = models.OneToOneField(
        Touch, on_delete=models.SET_NULL, null=True, blank=True, related_name="logged_for"
    )

    class Meta:
        ordering = ["due_on", "pk"]
        indexes = [
            models.Index(
                fields=["organization", "owner", "due_on"],
                condition=Q(completed_at__isnull=True),
                name="outreach_followup_open_due",
            ),
        ]

    @property
    def is_open(self) -> bool:
        return self.completed_at is None

    @property
    def kinds_to_log(self) -> list[TouchKind]:
        """The kinds of touch offered once it is done, likeliest first: the kind it came from, if usual."""
        came_from = TouchKind(self.touch.kind)
        first = [came_from] if came_from in FOLLOW_UP_KINDS else []
        return [*first, *(kind for kind in FOLLOW_UP_KINDS if kind not in first)][:FOLLOW_UP_KINDS_OFFERED]


class CalendarFeed(TenantModel):
    """A secret address that serves one person's follow-ups as iCalendar; revoked, it answers 404."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # Only the SHA-256 of the secret is kept: a copy of the database does not
    # give away anyone's calendar address.
    token_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"],
                condition=Q(revoked_at__isnull=True),
                name="outreach_calendarfeed_one_live_per_user",
            ),
        ]


class OutreachSettings(models.Model):
    """How often a source of each tier should hear from the clinic (a physician may override their tier's).

    One row per organization, made with these defaults the first time it is
    read (`outreach.selectors.outreach_settings_get`).
    """

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="outreach_settings"
    )
    cadence_tier_a_days = models.PositiveSmallIntegerField(
        "contact tier A sources every (days)", default=14, validators=[MinValueValidator(1)]
    )
    cadence_tier_b_days = models.PositiveSmallIntegerField(
        "contact tier B sources every (days)", default=30, validators=[MinValueValidator(1)]
    )
    cadence_tier_c_days = models.PositiveSmallIntegerField(
        "contact tier C sources every (days)", default=60, validators=[MinValueValidator(1)]
    )
    history = TenantHistoricalRecords()

    class Meta:
        verbose_name = "outreach settings"
        verbose_name_plural = "outreach settings"

    def __str__(self) -> str:
        return f"Outreach settings of {self.organization_id}"

    def validate_together(self) -> None:
        """Tier A sources matter most: they are contacted at least as often as tier B, and B as C.

        Checked when the cadences are saved (not by `clean`), so an
        organization whose older values break the rule can still save the
        rest of its settings page.
        """
        a, b, c = self.cadence_tier_a_days, self.cadence_tier_b_days, self.cadence_tier_c_days
        if a > b:
            raise ValidationError(
                {"cadence_tier_a_days": f"Contact tier A at least as often as tier B ({b} days)."}
            )
        if b > c:
            raise ValidationError(
                {"cadence_tier_b_days": f"Contact tier B at least as often as tier C ({c} days)."}
            )

    def cadence_days_for_tier(self, tier: str) -> int:
        return {"A": self.cadence_tier_a_days, "B": self.cadence_tier_b_days}.get(
            tier, self.cadence_tier_c_days
        )


class FlagKind(models.TextChoices):
    CONTACT_LAPSED = "contact_lapsed", "Contact lapsed"
    REFERRALS_DECLINING = "referrals_declining", "Referrals declining"


class FlagSeverity(models.TextChoices):
    DUE_SOON = "due_soon", "Due soon"
    OVERDUE = "overdue", "Overdue"
    LAPSED = "lapsed", "Lapsed"
    DECLINING = "declining", "Declining"


class Flag(TenantModel):
    """An open (or, once closed, past) signal that a source is slipping.

    The daily job opens a flag when its condition holds, updates it while it
    lasts and closes it when the condition clears; rows are never deleted, so
    they are the source's history of slipping.
    """

    physician = models.ForeignKey(Physician, on_delete=models.CASCADE, related_name="flags")
    kind = models.CharField(max_length=30, choices=FlagKind.choices)
    severity = models.CharField(max_length=20, choices=FlagSeverity.choices)
    # The figures behind the flag, e.g. {"days_since_contact": 41, "cadence_days": 30}.
    evidence = models.JSONField(default=dict)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["physician", "kind"],
                condition=Q(closed_at__isnull=True),
                name="outreach_flag_one_open_per_kind",
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "kind"],
                condition=Q(closed_at__isnull=True),
                name="outreach_flag_open",
            ),
            models.Index(fields=["organization", "physician", "-opened_at"], name="outreach_flag_org_phys"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.physician}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def reason(self) -> str:
        """The flag's evidence in a sentence, as of the organization's today (select its organization)."""
        evidence = self.evidence
        if self.kind == FlagKind.REFERRALS_DECLINING:
            recent = evidence["recent"]
            return (
                f"{recent} referral{pluralize(recent)} in the last 60 days; about {evidence['expected']:g} "
                f"expected from their {evidence['baseline']} in the year before"
            )
        days = (organization_today(self.organization) - datetime.date.fromisoformat(evidence["since"])).days
        cadence = f"contact every {evidence['cadence_days']} days"
        if not evidence["ever"]:
            return f"No contact logged in the {days} days since they were added; {cadence}"
        return f"Last contact {days} days ago; {cadence}"
