"""The referral list's filters that reproduce the dashboards' figures (referrals.list_filters).

The funnel's are the referrals app's own definitions, read from the history
as the referral's page reads it, so the list checks the figure against the
raw data. How late a first contact was, and how soon a plan was signed, are
counted in the facts (the deadline is a business-day rule in each clinic's
zone, which no query can apply), so those two read the facts.
"""

from datetime import datetime, timedelta

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from clinics.models import Organization
from referrals.list_filters import ReferralListFilter, register_referral_list_filter
from referrals.models import Referral, Status
from referrals.selectors import STEP_OF_STATUS, lost_from, reached, referral_settings_get

from .models import ReferralFact

REACHED = {
    "reached_contacted": Status.CONTACTED,
    "reached_scheduled": Status.SCHEDULED,
    "reached_evaluated": Status.EVALUATED,
    "reached_discharged": Status.DISCHARGED,
}
LOST_AT = {
    "lost_received": Status.RECEIVED,
    "lost_contacted": Status.CONTACTED,
    "lost_scheduled": Status.SCHEDULED,
    "lost_evaluated": Status.EVALUATED,
}
FUNNEL_CHOICES = (
    ("reached_contacted", "Contacted (at some time)"),
    ("reached_scheduled", "Scheduled (at some time)"),
    ("reached_evaluated", "Evaluated (at some time)"),
    ("reached_discharged", "Discharged"),
    ("lost_received", "Lost before contact"),
    ("lost_contacted", "Lost after contact, before scheduling"),
    ("lost_scheduled", "Lost after scheduling, before the evaluation"),
    ("lost_evaluated", "Lost during care"),
)


def statuses_at_step(step: str) -> list[str]:
    """The statuses a referral has while at funnel step `step` (evaluated includes in care)."""
    return [status for status, at in STEP_OF_STATUS.items() if at == step]


def _funnel(referrals: QuerySet[Referral], organization: Organization, choice: str) -> QuerySet[Referral]:
    if choice in REACHED:
        return referrals.filter(reached(REACHED[choice]))
    if choice in LOST_AT:
        return referrals.alias(lost_from=lost_from()).filter(
            status=Status.LOST, lost_from__in=statuses_at_step(LOST_AT[choice])
        )
    return referrals


def contact_late() -> Q:
    """Facts of referrals that left "received" after their contact deadline (counted when they did)."""
    return Q(left_received_at__gt=F("contact_due_at"))


def waiting_late(now: datetime) -> Q:
    """Facts of referrals still waiting for their first contact at `now`, past their deadline."""
    return Q(status=Status.RECEIVED, left_received_at__isnull=True, contact_due_at__lt=now)


def _contact(referrals: QuerySet[Referral], organization: Organization, choice: str) -> QuerySet[Referral]:
    conditions = {"late": contact_late(), "waiting_late": waiting_late(timezone.now())}
    if choice not in conditions:
        return referrals
    late = ReferralFact.objects.for_organization(organization).filter(conditions[choice])
    return referrals.filter(pk__in=late.values("referral_id"))


PLAN_CHOICES = (
    ("any", "Any"),
    ("in_time", "Signed within the organization's days"),
    ("late", "Signed after them"),
    ("unsigned", "Not signed yet"),
)


def plan_signed_within(days: int) -> Q:
    return Q(plan_signed_on__isnull=False, plan_signed_on__lte=F("plan_starts_on") + timedelta(days=days))


def _plan(referrals: QuerySet[Referral], organization: Organization, choice: str) -> QuerySet[Referral]:
    days = referral_settings_get(organization=organization).poc_signature_days
    facts = ReferralFact.objects.for_organization(organization).filter(plan_starts_on__isnull=False)
    conditions = {
        "any": Q(),
        "in_time": plan_signed_within(days),
        "late": Q(plan_signed_on__isnull=False) & ~plan_signed_within(days),
        "unsigned": Q(plan_signed_on__isnull=True),
    }
    if choice not in conditions:
        return referrals
    return referrals.filter(pk__in=facts.filter(conditions[choice]).values("referral_id"))


register_referral_list_filter(
    ReferralListFilter(name="funnel", label="Funnel", choices=FUNNEL_CHOICES, narrow=_funnel)
)
register_referral_list_filter(
    ReferralListFilter(
        name="contact",
        label="First contact",
        choices=(("late", "After the contact deadline"), ("waiting_late", "Still waiting past the deadline")),
        narrow=_contact,
    )
)
register_referral_list_filter(
    ReferralListFilter(name="plan", label="First plan of care", choices=PLAN_CHOICES, narrow=_plan)
)
