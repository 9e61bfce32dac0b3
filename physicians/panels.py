"""Sections that later apps add to a physician's or a practice's page.

The directory must not import the apps built on it (referrals, outreach), yet
a physician's page shows their referrals and touches. Those apps register a
panel here when they load; the page renders every registered panel. A builder
returns None to show nothing, e.g. to a role the section is not for.
"""

from collections.abc import Callable
from dataclasses import dataclass

from clinics.tenancy import OrganizationRequest

from .models import Physician, Practice


@dataclass(frozen=True)
class Panel:
    template: str
    context: dict
    # Physician and practice pages: "header" panels appear under the name (on
    # a physician's page on a phone: under whom to call, which comes first);
    # "actions" ones are buttons, first in the row beside the name, so the
    # page's main action is on a phone's first screen; "main" ones in the
    # timeline column (a practice's: below the gatekeepers).
    placement: str = "main"


PanelBuilder = Callable[[OrganizationRequest, Physician], Panel | None]
_builders: list[PanelBuilder] = []


def register_physician_panel(builder: PanelBuilder) -> PanelBuilder:
    if builder not in _builders:
        _builders.append(builder)
    return builder


def physician_panels(request: OrganizationRequest, physician: Physician) -> list[Panel]:
    return [panel for builder in _builders if (panel := builder(request, physician)) is not None]


PracticePanelBuilder = Callable[[OrganizationRequest, Practice], Panel | None]
_practice_builders: list[PracticePanelBuilder] = []


def register_practice_panel(builder: PracticePanelBuilder) -> PracticePanelBuilder:
    if builder not in _practice_builders:
        _practice_builders.append(builder)
    return builder


def practice_panels(request: OrganizationRequest, practice: Practice) -> list[Panel]:
    return [panel for builder in _practice_builders if (panel := builder(request, practice)) is not None]
