from clinics.history import HistorySource, register_history_source
from clinics.tenancy import OrganizationRequest
from physicians.models import Physician
from physicians.panels import Panel, register_physician_panel
from referrals.models import Referral
from referrals.panels import register_referral_panel

from .models import NoteKind, OutcomeScore
from .roles import READS_NOTES, RECORDERS, SCORECARD_READERS
from .selectors import referral_outcomes
from .services import SURVEY_LINK_DAYS


@register_referral_panel
def referral_outcomes_panel(request: OrganizationRequest, referral: Referral) -> Panel:
    """Care notes, outcome scores with their change since intake, and the patient's NPS."""
    role = request.membership.role
    return Panel(
        "outcomes/_referral_outcomes.html",
        {
            "referral": referral,
            "outcomes": referral_outcomes(organization=request.organization, referral=referral),
            "may_record": role in RECORDERS,
            "reads_notes": role in READS_NOTES,
            "kinds": NoteKind,
            "survey_days": SURVEY_LINK_DAYS,
        },
    )


@register_physician_panel
def physician_scorecard_link(request: OrganizationRequest, physician: Physician) -> Panel | None:
    if request.membership.role not in SCORECARD_READERS:
        return None
    return Panel("outcomes/_scorecard_link.html", {"physician": physician}, placement="header")


def _referral_scores(referral: Referral, role: str) -> HistorySource:
    """Everyone who sees a referral sees its scores, so the History lists their changes too."""
    return HistorySource(OutcomeScore, {"referral_id": referral.pk}, "Outcome score")


register_history_source(Referral, _referral_scores)
