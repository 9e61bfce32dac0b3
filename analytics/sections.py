"""The dashboards, one section each, in a registry: a new section is one registration and one URL pair.

A section names who may see it, builds its figures from the filters
(`analytics.selectors`), and the same page template and CSV export serve
every section. The menu, the tabs between sections and the URL patterns
(analytics/urls.py) are all read from here.
"""

from collections.abc import Callable
from dataclasses import dataclass

from clinics.models import Role

from . import selectors
from .figures import SectionData
from .filters import DashboardFilters

ADMINS = frozenset({Role.ADMIN})
# Who courts sources and runs outreach: the organization's figures, with "my sources" as a filter.
SOURCES = frozenset({Role.LIAISON, Role.ADMIN})
# Outcomes by source: those who court sources, and therapists, for their own caseload (analytics.views).
OUTCOMES = frozenset({Role.THERAPIST, Role.LIAISON, Role.ADMIN})
# The front desk sees the pipeline they work, nothing else.
PIPELINE = frozenset({Role.FRONT_DESK, Role.LIAISON, Role.ADMIN})


@dataclass(frozen=True)
class DashboardSection:
    key: str
    title: str
    summary: str
    roles: frozenset[str]
    order: int
    build: Callable[[DashboardFilters], SectionData]


_sections: dict[str, DashboardSection] = {}


def register_dashboard_section(section: DashboardSection) -> DashboardSection:
    """Adds a dashboard; registering the same key again replaces it."""
    _sections[section.key] = section
    return section


def dashboard_sections() -> list[DashboardSection]:
    return sorted(_sections.values(), key=lambda section: section.order)


def sections_for(role: str) -> list[DashboardSection]:
    return [section for section in dashboard_sections() if role in section.roles]


register_dashboard_section(
    DashboardSection(
        key="pipeline",
        title="Pipeline",
        summary="Where referrals are now, how far they get, where they leak out, and how fast.",
        roles=PIPELINE,
        order=10,
        build=selectors.pipeline,
    )
)
register_dashboard_section(
    DashboardSection(
        key="sources",
        title="Sources",
        summary="Who sends patients, who is new, who is growing and who is slipping.",
        roles=SOURCES,
        order=20,
        build=selectors.sources,
    )
)
register_dashboard_section(
    DashboardSection(
        key="revenue",
        title="Revenue by source",
        summary="What each source's referrals billed and brought in, and from which payers.",
        roles=ADMINS,
        order=30,
        build=selectors.revenue,
    )
)
register_dashboard_section(
    DashboardSection(
        key="outreach",
        title="Outreach",
        summary="Touches against referrals, and whether referrals rose after touches.",
        roles=SOURCES,
        order=40,
        build=selectors.outreach,
    )
)
register_dashboard_section(
    DashboardSection(
        key="outcomes",
        title="Outcomes and experience by source",
        summary="How the patients each source sends fare: their outcomes, their NPS, and whether their "
        "physician heard from us after the evaluation.",
        roles=OUTCOMES,
        order=50,
        build=selectors.outcomes,
    )
)
register_dashboard_section(
    DashboardSection(
        key="plans",
        title="Plans of care",
        summary="Plans signed in time, and those overdue at each practice.",
        roles=SOURCES,
        order=60,
        build=selectors.plans,
    )
)
