"""The rollups the dashboards read instead of the pipeline's history, the visits and the touches.

Both are derived, never typed: `analytics.rollups` rewrites the rows a write
touched, in the writing transaction (through the hooks the lower apps offer),
a beat job compares them with a recomputation from scratch and repairs any
difference, and `manage.py rebuild_analytics` remakes them. Relations carry
`related_name="+"` and no index of their own: the composite indexes below lead
every read, and the lower apps' models gain no accessor to this app.
A physician merge moves these rows with the physician's other rows
(`physicians.services.related_rows_move`), so no unique key may hold a
physician: a cell can briefly be two rows, and every read sums.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from clinics.models import Clinic, Payer, TenantModel
from physicians.models import Physician, Practice
from referrals.models import LossReason, Referral, SourceType, Status


def _dimension(model: type[models.Model], verbose_name: str) -> models.ForeignKey:
    return models.ForeignKey(
        model,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=verbose_name,
    )


class ReferralFact(TenantModel):
    """One referral as the dashboards count it: where it came from, how far it went, when, and its money.

    The day is the organization's (clinics/clock.py); attribution (practice,
    specialty) is the referral's own, taken at intake; the milestones are the
    first time the history reached each step of the funnel
    (`referrals.selectors.FUNNEL`), so a lost and reopened referral keeps what
    it reached.
    """

    referral = models.OneToOneField(Referral, on_delete=models.CASCADE, primary_key=True, related_name="+")
    received_at = models.DateTimeField()
    received_on = models.DateField(help_text="The organization's day the referral was received.")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+", db_index=False)
    source_type = models.CharField(max_length=20, choices=SourceType.choices)
    physician = _dimension(Physician, "physician")
    practice = _dimension(Practice, "referring practice")
    specialty = models.CharField("referring specialty", max_length=10, blank=True)
    payer = _dimension(Payer, "payer")
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    status = models.CharField(max_length=20, choices=Status.choices)
    loss_reason = models.CharField(max_length=30, choices=LossReason.choices, blank=True)
    # The step a lost referral had reached when it was lost ("received": before any contact).
    lost_after = models.CharField(max_length=20, choices=Status.choices, blank=True)
    contacted_at = models.DateTimeField(null=True, blank=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    discharged_at = models.DateTimeField(null=True, blank=True)
    # The evaluation: its appointment, else the move to evaluated; only once evaluated.
    first_visit_at = models.DateTimeField(null=True, blank=True)
    # When it first left "received" (contacted, scheduled or lost), against its contact deadline.
    left_received_at = models.DateTimeField(null=True, blank=True)
    contact_due_at = models.DateTimeField()
    visits = models.PositiveIntegerField(default=0)
    billed = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    collected = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    # The referral's first plan of care (by first treatment day) and when it was signed.
    plan_starts_on = models.DateField(null=True, blank=True)
    plan_signed_on = models.DateField(null=True, blank=True)
    # The referral's headline outcome (outcomes.selectors.headline_change): its measure, the
    # improvement in that measure's points and as a share of its range, and the MCID verdict
    # (None where the measure has no published MCID).
    outcome_instrument = models.CharField(max_length=20, blank=True)
    outcome_improvement = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    outcome_share_of_range = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    outcome_mcid_reached = models.BooleanField(null=True, blank=True)
    nps_score = models.PositiveSmallIntegerField(null=True, blank=True)
    # When the first letter about the patient left the clinic after they were first seen.
    letter_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "received_on"], name="analytics_fact_org_day"),
            models.Index(
                fields=["organization", "physician", "received_on"], name="analytics_fact_org_phys_day"
            ),
            models.Index(fields=["organization", "status", "clinic"], name="analytics_fact_org_status"),
            # The plans dashboard's counts, read from the index alone (1M referrals: 83 → 23 ms).
            models.Index(
                fields=["organization", "received_on", "plan_starts_on", "plan_signed_on"],
                condition=Q(plan_starts_on__isnull=False),
                name="analytics_fact_org_day_plans",
            ),
        ]

    def __str__(self) -> str:
        return f"Figures of referral {self.referral_id}"


class TouchDay(TenantModel):
    """Touches of one day (the organization's), with one party, of one kind, by one person: a count.

    A touch with a physician at a practice counts in the row naming both; a
    touch with a practice or its gatekeeper only names the practice.
    """

    day = models.DateField()
    physician = _dimension(Physician, "physician")
    practice = _dimension(Practice, "practice")
    kind = models.CharField(max_length=30)
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    touches = models.PositiveIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["organization", "day"], name="analytics_touchday_org_day"),
            models.Index(fields=["organization", "physician", "day"], name="analytics_touchday_org_phys"),
        ]

    def __str__(self) -> str:
        return f"{self.touches} {self.kind} on {self.day}"
