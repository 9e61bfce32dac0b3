from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clinics.models import Membership, TenantModel

from .schedule import WEEKDAYS


class Section(models.TextChoices):
    """Every part a digest can have; each role gets some of them (content.ROLE_SECTIONS)."""

    # Therapists
    REFERRALS = "referrals", "New referrals and evaluations coming up"
    PLANS = "plans", "Plans of care to sign"
    LETTERS = "letters", "Outcome letters"
    LOOP = "loop", "Physicians who have not heard back"
    DISCHARGES = "discharges", "Discharges and outcomes"
    THANKS = "thanks", "Physicians to thank"
    # Liaisons
    ATTENTION = "attention", "Lapsed and declining sources"
    FOLLOWUPS = "followups", "Follow-ups due this week"
    NEW_SOURCES = "new_sources", "New sources"
    TOP_SOURCES = "top_sources", "Your top sources"
    TOUCHES = "touches", "Your touches"
    LIFT = "lift", "Outreach lift"
    # Admins
    WEEK = "week", "The organization's week"
    REVENUE = "revenue", "Revenue by top sources"
    LOOP_RATE = "loop_rate", "Letters and closed loops"
    NPS = "nps", "Patient satisfaction"
    AT_STAKE = "at_stake", "Sources most at stake"


class DigestPreference(TenantModel):
    """One person's weekly digest in one organization: when it comes, what it holds, whether it comes.

    Made with the defaults (Monday, 7:00 on the person's clock, every section)
    the first time the sweep or the person's preferences page meets the
    membership. `next_digest_at` is when the next one is due, in UTC, from the
    person's time zone (schedule.py); None while the digest is off. The sweep
    claims a due row by moving it to the next week in the same statement that
    checks it is still due, so a digest is claimed once.
    """

    membership = models.OneToOneField(Membership, on_delete=models.CASCADE, related_name="+")
    weekday = models.PositiveSmallIntegerField(
        "day", choices=list(enumerate(WEEKDAYS)), default=0, validators=[MaxValueValidator(6)]
    )
    hour = models.PositiveSmallIntegerField(
        "hour",
        choices=[(hour, f"{hour:02d}:00") for hour in range(24)],
        default=7,
        validators=[MaxValueValidator(23)],
        help_text="On your own clock.",
    )
    enabled = models.BooleanField("send me a weekly digest", default=True)
    # Section keys (Section) the person turned off; new sections come on by default.
    sections_off = models.JSONField(default=list, blank=True)
    next_digest_at = models.DateTimeField(null=True, blank=True)
    # The ISO week of the last digest queued ("2026-W49"): shown on the admin's list.
    last_week = models.CharField(max_length=8, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "membership"], name="digests_pref_org_member"),
            # The sweep crosses organizations: what is due, soonest first.
            models.Index(
                fields=["next_digest_at"], condition=Q(next_digest_at__isnull=False), name="digests_pref_due"
            ),
        ]

    def __str__(self) -> str:
        return f"digest preference #{self.pk}"
