"""The referral sections of physician and practice pages, and the registry of sections of a referral's page.

Apps built on referrals (visits and payments) add a section to a referral's
page with `register_referral_panel`; the page renders every registered
panel, in registration order. A builder returns None to show nothing.
"""

from collections.abc import Callable

from clinics.tenancy import OrganizationRequest
from physicians.models import Physician, Practice
from physicians.panels import Panel, register_physician_panel, register_practice_panel

from .models import Referral
from .selectors import physician_recent_referrals, physician_referral_stats, practice_referral_stats

RECENT_REFERRALS_SHOWN = 10


@register_physician_panel
def referral_summary(request: OrganizationRequest, physician: Physician) -> Panel:
    stats = physician_referral_stats(organization=request.organization, physician_id=physician.pk)
    return Panel("referrals/_referral_summary.html", {"stats": stats}, placement="header")


@register_practice_panel
def practice_referral_summary(request: OrganizationRequest, practice: Practice) -> Panel:
    """Referrals attributed to the practice when they arrived, whoever of its physicians is there now."""
    stats = practice_referral_stats(organization=request.organization, practice_id=practice.pk)
    return Panel("referrals/_referral_summary.html", {"stats": stats, "attributed": True}, placement="header")


@register_physician_panel
def referral_timeline(request: OrganizationRequest, physician: Physician) -> Panel:
    referrals = physician_recent_referrals(
        organization=request.organization, physician_id=physician.pk, limit=RECENT_REFERRALS_SHOWN
    )
    return Panel("referrals/_physician_referrals.html", {"referrals": referrals})


ReferralPanelBuilder = Callable[[OrganizationRequest, Referral], Panel | None]
_referral_builders: list[ReferralPanelBuilder] = []


def register_referral_panel(builder: ReferralPanelBuilder) -> ReferralPanelBuilder:
    """Adds a section to every referral's page: "main" panels in the wide column, "side" in the narrow."""
    if builder not in _referral_builders:
        _referral_builders.append(builder)
    return builder


def referral_panels(request: OrganizationRequest, referral: Referral) -> list[Panel]:
    return [panel for builder in _referral_builders if (panel := builder(request, referral)) is not None]
