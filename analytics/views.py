"""The dashboards: one page per section, its CSV export, and the index that opens the first one allowed."""

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import cast

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify

from audit.models import AccessKind
from audit.recording import records_access, shows_no_patient_data
from clinics.models import Role
from clinics.tenancy import OrganizationRequest, StaffView, staff_view
from config.spreadsheets import csv_download

from .figures import Chart, SectionData, Table
from .filters import DashboardFilterForm, DashboardFilters
from .sections import DashboardSection, dashboard_sections, sections_for


@shows_no_patient_data("links to the dashboards")
@staff_view(roles=frozenset().union(*(section.roles for section in dashboard_sections())))
def index(request: OrganizationRequest) -> HttpResponse:
    """Opens the first dashboard the person's role may see, keeping the filters given."""
    allowed = sections_for(request.membership.role)
    query = request.GET.urlencode()
    return redirect(reverse(f"analytics:{allowed[0].key}") + (f"?{query}" if query else ""))


# A chart with more bars than this gets a taller frame, so its labels stay legible.
TALL_CHART_LABELS = 8
# A table with more columns than this goes under its chart, at full width.
WIDE_TABLE_COLUMNS = 4


def _filters(request: OrganizationRequest) -> tuple[DashboardFilterForm, DashboardFilters]:
    form = DashboardFilterForm(request.GET or None, organization=request.organization)
    filters = form.dashboard_filters()
    if request.membership.role == Role.THERAPIST:
        # Therapists see the outcomes of the patients they treat, never the organization's.
        filters = replace(filters, therapist=request.user)
    return form.shown_for(filters), filters


@dataclass(frozen=True)
class ChartBlock:
    """A chart with the table of its numbers, laid side by side, or the table below when it is wide."""

    chart: Chart
    table: Table
    tall: bool

    @property
    def wide(self) -> bool:
        return len(self.table.columns) > WIDE_TABLE_COLUMNS


def section_page(section: DashboardSection) -> StaffView:
    def page(request: OrganizationRequest) -> HttpResponse:
        form, filters = _filters(request)
        data = section.build(filters)
        charted = {chart.table for chart in data.charts}
        return render(
            request,
            "analytics/dashboard.html",
            {
                "section": section,
                "sections": sections_for(request.membership.role),
                "form": form,
                "filters": filters,
                "data": data,
                "charts": [
                    ChartBlock(chart, data.table(chart.table), tall=len(chart.labels) > TALL_CHART_LABELS)
                    for chart in data.charts
                ],
                "other_tables": [table for table in data.tables if table.key not in charted],
                "charts_json": {chart.key: chart.as_json() for chart in data.charts},
                "query": filters.query(),
                "my_sources_query": filters.query(owner=request.user.pk),
                "everyone_query": filters.query(owner=""),
                "mine": filters.owner is not None and filters.owner.pk == request.user.pk,
            },
        )

    page.__name__ = page.__qualname__ = f"{section.key}_dashboard"
    return cast(
        StaffView,
        shows_no_patient_data("figures in aggregate; drill-downs open the referral list")(
            staff_view(roles=section.roles)(page)
        ),
    )


def _csv_rows(data: SectionData) -> Iterator[list[object]]:
    """Every table of the section, one after another: its title, its header, its rows, a blank line."""
    for table in data.tables:
        yield [table.title]
        yield list(table.columns)
        for row in table.rows:
            yield [cell.value for cell in row]
        yield []


def section_export(section: DashboardSection) -> StaffView:
    def export(request: OrganizationRequest) -> StreamingHttpResponse:
        _, filters = _filters(request)
        data = section.build(filters)
        period = filters.period
        title = [f"{section.title}, {request.organization.name}, {period.start} to {period.end}"]
        name = slugify(f"{section.key} {period.start} {period.end}")
        return csv_download(filename=f"{name}.csv", header=title, rows=_csv_rows(data))

    export.__name__ = export.__qualname__ = f"{section.key}_export"
    return cast(StaffView, records_access(kind=AccessKind.EXPORT)(staff_view(roles=section.roles)(export)))


def section_views() -> Iterator[tuple[DashboardSection, StaffView, StaffView]]:
    for section in dashboard_sections():
        yield section, section_page(section), section_export(section)
