"""Filters of the referral list that apps above referrals add, so their figures can lead to the list.

A dashboard figure ("12 contacted after the deadline") links to the list of
exactly those referrals. When the rule behind a figure is an app's own (how
late is late is counted in the facts analytics keeps), that app registers a
filter here from its own module, loaded by its AppConfig.ready: a name for the
query string, the choices it takes, and how it narrows the list. The list's
form offers it as a hidden field, describes it in words and the export keeps
it, so the list, the export and the figure agree. This app names none of them.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import QuerySet

from clinics.models import Organization

from .models import Referral


@dataclass(frozen=True)
class ReferralListFilter:
    """One filter: `?<name>=<choice>` narrows the list by `narrow(referrals, organization, choice)`."""

    name: str
    label: str
    choices: tuple[tuple[str, str], ...]
    narrow: Callable[[QuerySet[Referral], Organization, str], QuerySet[Referral]]


_filters: dict[str, ReferralListFilter] = {}


def register_referral_list_filter(extra: ReferralListFilter) -> ReferralListFilter:
    """Adds `extra` to the referral list; registering the same name again replaces it."""
    _filters[extra.name] = extra
    return extra


def registered() -> list[ReferralListFilter]:
    return sorted(_filters.values(), key=lambda extra: extra.name)
