"""Sections that later apps add to a physician's page.

The directory must not import the apps built on it (referrals, outreach), yet
a physician's page shows their referrals and touches. Those apps register a
panel here when they load; the page renders every registered panel.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest

from .models import Physician


@dataclass(frozen=True)
class Panel:
    template: str
    context: dict
    # Panels with a header summary appear under the name, the rest in the timeline column.
    placement: str = "main"


PanelBuilder = Callable[[HttpRequest, Physician], Panel | None]
_builders: list[PanelBuilder] = []


def register_physician_panel(builder: PanelBuilder) -> PanelBuilder:
    if builder not in _builders:
        _builders.append(builder)
    return builder


def physician_panels(request: HttpRequest, physician: Physician) -> list[Panel]:
    return [panel for builder in _builders if (panel := builder(request, physician)) is not None]
