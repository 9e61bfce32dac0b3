from collections.abc import Callable

from clinics.history import HistorySource, register_history_source
from clinics.tenancy import OrganizationRequest
from physicians.models import Physician, Practice
from physicians.panels import Panel, register_physician_panel, register_practice_panel

from .flags import physician_contact_status
from .models import Touch
from .roles import OUTREACH
from .selectors import physician_touches, practice_touches

RECENT_TOUCHES_SHOWN = 10


@register_physician_panel
def physician_contact_cadence(request: OrganizationRequest, physician: Physician) -> Panel | None:
    if request.membership.role not in OUTREACH:
        return None
    status = physician_contact_status(organization=request.organization, physician_id=physician.pk)
    return Panel(
        "outreach/_contact_status.html", {"status": status, "physician": physician}, placement="header"
    )


@register_physician_panel
def physician_log_touch_button(request: OrganizationRequest, physician: Physician) -> Panel | None:
    if request.membership.role not in OUTREACH:
        return None
    return Panel("outreach/_log_touch_button.html", {"physician": physician}, placement="actions")


@register_physician_panel
def physician_touch_timeline(request: OrganizationRequest, physician: Physician) -> Panel | None:
    if request.membership.role not in OUTREACH:
        return None
    touches = physician_touches(
        organization=request.organization, physician_id=physician.pk, limit=RECENT_TOUCHES_SHOWN
    )
    return Panel("outreach/_touch_panel.html", {"touches": touches, "physician": physician})


@register_practice_panel
def practice_log_touch_button(request: OrganizationRequest, practice: Practice) -> Panel | None:
    if request.membership.role not in OUTREACH:
        return None
    return Panel("outreach/_log_touch_button.html", {"practice": practice}, placement="actions")


@register_practice_panel
def practice_touch_timeline(request: OrganizationRequest, practice: Practice) -> Panel | None:
    if request.membership.role not in OUTREACH:
        return None
    touches = practice_touches(
        organization=request.organization, practice_id=practice.pk, limit=RECENT_TOUCHES_SHOWN
    )
    return Panel("outreach/_touch_panel.html", {"touches": touches, "practice": practice})


def _touches_of(key: str) -> Callable[[Physician | Practice, str], HistorySource | None]:
    def touches(record: Physician | Practice, role: str) -> HistorySource | None:
        return HistorySource(Touch, {key: record.pk}, "Touch") if role in OUTREACH else None

    return touches


# A source's History lists changes to its touches, for those who see the touches.
register_history_source(Physician, _touches_of("physician_id"))
register_history_source(Practice, _touches_of("practice_id"))
