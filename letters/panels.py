"""The letters' sections of a referral's page and a physician's page."""

from clinics.tenancy import OrganizationRequest
from physicians.models import Physician
from physicians.panels import Panel, register_physician_panel
from referrals.models import Referral, SourceType
from referrals.panels import register_referral_panel

from .rhythm import RHYTHM_LETTERS
from .selectors import physician_letters, referral_letters

PHYSICIAN_LETTERS_SHOWN = 10


@register_referral_panel
def letters_about_referral(request: OrganizationRequest, referral: Referral) -> Panel | None:
    """The letters its physician was sent about this patient, their delivery, and what the rhythm promises."""
    if referral.source_type != SourceType.PHYSICIAN or referral.physician is None:
        return None
    return Panel(
        "letters/_referral_letters.html",
        {
            "referral": referral,
            "physician": referral.physician,
            "letters": referral_letters(organization=request.organization, referral_id=referral.pk),
            "rhythm_letters": sorted(RHYTHM_LETTERS.get(referral.physician.update_rhythm, ())),
        },
    )


@register_physician_panel
def letters_to_physician(request: OrganizationRequest, physician: Physician) -> Panel:
    return Panel(
        "letters/_physician_letters.html",
        {
            "physician": physician,
            "letters": physician_letters(
                organization=request.organization, physician_id=physician.pk, limit=PHYSICIAN_LETTERS_SHOWN
            ),
            "shown": PHYSICIAN_LETTERS_SHOWN,
        },
    )
