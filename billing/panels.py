from clinics.tenancy import OrganizationRequest
from physicians.panels import Panel
from referrals.models import Referral
from referrals.panels import register_referral_panel

from .roles import EDITORS, SEES_AMOUNTS
from .selectors import referral_billing


@register_referral_panel
def visits_and_payments(request: OrganizationRequest, referral: Referral) -> Panel:
    """Visits and payments by date with their totals; the front desk sees the visits without amounts."""
    role = request.membership.role
    return Panel(
        "billing/_referral_billing.html",
        {
            "referral": referral,
            "billing": referral_billing(organization=request.organization, referral=referral),
            "sees_amounts": role in SEES_AMOUNTS,
            "may_edit": role in EDITORS,
        },
    )
