"""Pages of the referral export: ask, follow its progress, download it. Admins only."""

from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render

from audit.models import AccessKind
from audit.recording import records_access, shows_no_patient_data
from clinics.clock import local_date, person_zone
from clinics.roles import ADMINS
from clinics.tenancy import OrganizationRequest, get_for_organization_or_404, staff_view

from . import selectors
from .exports import selectors as export_selectors
from .exports import services
from .exports.columns import download_name
from .forms import ReferralExportForm, ReferralFilterForm
from .models import ExportStatus, ReferralExport


@shows_no_patient_data("the export form and past exports' filters")
@staff_view(roles=ADMINS)
def export_start(request: OrganizationRequest) -> HttpResponse:
    """The confirmation step: the list's filters, how many referrals match, and the patient-data question.

    The filters come in the query string, as on the list, and are parsed by the
    list's own form; the worker writes the file.
    """
    filter_form = ReferralFilterForm(request.GET or None, organization=request.organization)
    filters_valid = not filter_form.is_bound or filter_form.is_valid()
    form = ReferralExportForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and filters_valid and form.is_valid():
        export = services.referral_export_request(
            organization=request.organization,
            acting=request.membership,
            filters=filter_form.filters(),
            filters_description=filter_form.description(),
            include_patient_data=form.cleaned_data["include_patient_data"],
            time_zone=person_zone(request.membership).key,
        )
        return redirect("referrals:export_detail", export_id=export.pk)
    matching = (
        selectors.referral_list(organization=request.organization, filters=filter_form.filters()).count()
        if filters_valid
        else None
    )
    return render(
        request,
        "referrals/export_start.html",
        {
            "form": form,
            "filter_form": filter_form,
            "filters_valid": filters_valid,
            "description": filter_form.description() if filters_valid else "",
            "matching": matching,
            "list_query": request.GET.urlencode(),
            "exports": export_selectors.referral_exports_recent(organization=request.organization),
            "lifetime_hours": int(services.EXPORT_LIFETIME.total_seconds() // 3600),
        },
    )


@shows_no_patient_data("an export's progress")
@staff_view(roles=ADMINS)
def export_detail(request: OrganizationRequest, export_id: int) -> HttpResponse:
    export = get_for_organization_or_404(
        ReferralExport.objects.select_related("requested_by"), request.organization, pk=export_id
    )
    template = "referrals/_export_progress.html" if request.htmx else "referrals/export_detail.html"
    return render(request, template, {"export": export})


@records_access(kind=AccessKind.EXPORT, object_kwarg="export_id", object_type="referral export")
@staff_view(roles=ADMINS)
def export_download(request: OrganizationRequest, export_id: int) -> HttpResponseBase:
    export = get_for_organization_or_404(ReferralExport, request.organization, pk=export_id)
    if export.status != ExportStatus.READY:
        messages.info(
            request, f"This export is not ready to download: {export.get_status_display().lower()}."
        )
        return redirect("referrals:export_detail", export_id=export.pk)
    try:
        content = export.file.open("rb")
    except FileNotFoundError:
        raise Http404("This export's file is missing.") from None
    response = FileResponse(
        content,
        as_attachment=True,
        filename=download_name(
            export_id=export.pk, created_on=local_date(export.created_at, ZoneInfo(export.time_zone))
        ),
        content_type="text/csv; charset=utf-8",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
