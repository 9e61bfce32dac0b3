"""Keeps the rollups in step with every write: the lower apps call these inside their transactions."""

from collections.abc import Collection, Sequence

from billing.services import register_referral_totals_changed
from outreach.models import Touch
from outreach.services import register_touches_changed
from referrals.services import register_referrals_changed

from .rollups import referral_facts_refresh, referral_facts_totals_refresh, touch_days_refresh


@register_referrals_changed
def _referrals_changed(referral_ids: Collection[int]) -> None:
    referral_facts_refresh(referral_ids=referral_ids)


@register_referral_totals_changed
def _totals_changed(referral_ids: Sequence[int]) -> None:
    referral_facts_totals_refresh(referral_ids=referral_ids)


@register_touches_changed
def _touches_changed(touches: Sequence[Touch]) -> None:
    touch_days_refresh(touches=touches)
