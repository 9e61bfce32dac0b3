"""The referral list's filters that reproduce the dashboards' figures (referrals.list_filters).

The funnel's are the referrals app's own definitions, read from the history
as the referral's page reads it, so the list checks the figure against the
raw data. How late a first contact was, and how soon a plan was signed, are
counted in the facts (the deadline is a business-day rule in each clinic's
zone, which no query can apply), so those two read the facts. So do the
outcome verdicts (each instrument's threshold is the outcomes app's rule, in
Python) and the loop after the evaluation; the NPS groups read the answers.
"""

from datetime import datetime, timedelta

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from clinics.models import Organization
from letters.models import LetterKind
from letters.rhythm import rhythms_wanting
from letters.selectors import loop_days_get
from outcomes.instruments import CHOICES as MEASURE_CHOICES
from outcomes.models import NpsResponse
from outcomes.selectors import NPS_GROUPS, nps_group
from physicians.models import Physician
from referrals.list_filters import ReferralListFilter, register_referral_list_filter
from referrals.models import Referral, SourceType, Status
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


OUTCOME_CHOICES = (
    ("measured", "Outcome measured (intake and a later score)"),
    ("judged", "Outcome with an MCID verdict"),
    ("reached", "Reached the MCID"),
    ("not_reached", "Did not reach the MCID"),
)


def outcome_condition(choice: str) -> Q:
    """Facts of referrals whose headline outcome (outcomes.selectors.headline_change) is as `choice` says."""
    return {
        "measured": Q(outcome_share_of_range__isnull=False),
        "judged": Q(outcome_mcid_reached__isnull=False),
        "reached": Q(outcome_mcid_reached=True),
        "not_reached": Q(outcome_mcid_reached=False),
    }[choice]


def _outcome(referrals: QuerySet[Referral], organization: Organization, choice: str) -> QuerySet[Referral]:
    if choice not in dict(OUTCOME_CHOICES):
        return referrals
    facts = ReferralFact.objects.for_organization(organization).filter(outcome_condition(choice))
    return referrals.filter(pk__in=facts.values("referral_id"))


def _measure(referrals: QuerySet[Referral], organization: Organization, choice: str) -> QuerySet[Referral]:
    """Referrals whose headline outcome is on the measure `choice` (an instrument's code)."""
    if choice not in dict(MEASURE_CHOICES):
        return referrals
    facts = ReferralFact.objects.for_organization(organization).filter(outcome_instrument=choice)
    return referrals.filter(pk__in=facts.values("referral_id"))


NPS_CHOICES = (
    ("answered", "Answered the NPS question"),
    ("promoter", "Promoters (9–10)"),
    ("passive", "Passives (7–8)"),
    ("detractor", "Detractors (0–6)"),
)


def nps_condition(choice: str, *, field: str = "nps_score") -> Q:
    """The patient's answer in `choice`'s group (outcomes' NPS groups), or any answer."""
    return nps_group(choice, field=field) if choice in NPS_GROUPS else Q(**{f"{field}__isnull": False})


def _nps(referrals: QuerySet[Referral], organization: Organization, choice: str) -> QuerySet[Referral]:
    """From the answers themselves (outcomes.models.NpsResponse), as the referral's page shows them."""
    if choice not in dict(NPS_CHOICES):
        return referrals
    answers = NpsResponse.objects.for_organization(organization).filter(nps_condition(choice, field="score"))
    return referrals.filter(pk__in=answers.values("referral_id"))


LOOP_CHOICES = (
    ("due", "Evaluated long enough ago for a letter to be due"),
    ("closed", "A letter left within the days after the evaluation"),
    ("open", "No letter within the days after the evaluation"),
)


def loop_due(*, organization: Organization, now: datetime, days: int) -> Q:
    """Facts of physician referrals evaluated `days` ago or more, whose physician wants the evaluation letter.

    The letters' own rule (letters.selectors.loop_not_closed, its first case):
    physicians who asked for letters at discharge, monthly or never are not
    promised one after the evaluation. Their rhythm is read now (a subquery,
    so no join drops facts without a physician from the other counts).
    """
    wanting = Physician.objects.for_organization(organization).filter(
        update_rhythm__in=rhythms_wanting(LetterKind.EVALUATION)
    )
    return Q(
        source_type=SourceType.PHYSICIAN,
        physician_id__in=wanting.values("pk"),
        evaluated_at__lte=now - timedelta(days=days),
    )


def loop_closed(days: int) -> Q:
    """Facts whose first letter after the patient was seen left within `days` of the evaluation."""
    return Q(letter_sent_at__isnull=False, letter_sent_at__lte=F("evaluated_at") + timedelta(days=days))


def _loop(referrals: QuerySet[Referral], organization: Organization, choice: str) -> QuerySet[Referral]:
    if choice not in dict(LOOP_CHOICES):
        return referrals
    days = loop_days_get(organization=organization)
    facts = ReferralFact.objects.for_organization(organization).filter(
        loop_due(organization=organization, now=timezone.now(), days=days)
    )
    conditions = {"due": Q(), "closed": loop_closed(days), "open": ~loop_closed(days)}
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
register_referral_list_filter(
    ReferralListFilter(name="outcome", label="Outcome", choices=OUTCOME_CHOICES, narrow=_outcome)
)
register_referral_list_filter(
    ReferralListFilter(
        name="measure", label="Outcome measure", choices=tuple(MEASURE_CHOICES), narrow=_measure
    )
)
register_referral_list_filter(ReferralListFilter(name="nps", label="NPS", choices=NPS_CHOICES, narrow=_nps))
register_referral_list_filter(
    ReferralListFilter(name="loop", label="Letter after the evaluation", choices=LOOP_CHOICES, narrow=_loop)
)
