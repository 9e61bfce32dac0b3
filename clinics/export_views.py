"""Pages of the organization data export: ask for one, follow its progress, download it. Admins only."""

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from .exports import selectors, services
from .exports.registry import excluded_models, export_tables
from .models import ExportStatus, OrganizationExport
from .roles import ADMINS
from .services import data_export_event
from .tenancy import OrganizationRequest, get_for_organization_or_404, staff_view


@staff_view(roles=ADMINS)
def data_export(request: OrganizationRequest) -> HttpResponse:
    """What the export holds, the button that asks for one, and the organization's recent exports."""
    return render(
        request,
        "clinics/data_export.html",
        {
            "tables": export_tables(),
            "excluded": excluded_models(),
            "exports": selectors.organization_exports_recent(organization=request.organization),
            "lifetime_hours": int(services.EXPORT_LIFETIME.total_seconds() // 3600),
        },
    )


@require_POST
@staff_view(roles=ADMINS)
def data_export_request(request: OrganizationRequest) -> HttpResponse:
    export, created = services.organization_export_request(
        organization=request.organization, acting=request.membership
    )
    if not created:
        messages.info(request, "An export is already being written: here it is.")
    return redirect("clinics:data_export_detail", organization_export_id=export.pk)


@staff_view(roles=ADMINS)
def data_export_detail(request: OrganizationRequest, organization_export_id: int) -> HttpResponse:
    export = get_for_organization_or_404(
        OrganizationExport.objects.select_related("requested_by"),
        request.organization,
        pk=organization_export_id,
    )
    template = "clinics/_data_export_progress.html" if request.htmx else "clinics/data_export_detail.html"
    return render(request, template, {"export": export})


@staff_view(roles=ADMINS)
def data_export_download(request: OrganizationRequest, organization_export_id: int) -> HttpResponseBase:
    export = get_for_organization_or_404(OrganizationExport, request.organization, pk=organization_export_id)
    if export.status != ExportStatus.READY:
        messages.info(
            request, f"This export is not ready to download: {export.get_status_display().lower()}."
        )
        return redirect("clinics:data_export_detail", organization_export_id=export.pk)
    try:
        content = export.file.open("rb")
    except FileNotFoundError:
        raise Http404("This export's file is missing.") from None
    # Recorded before the file is handed over: if the record fails, the file is not sent.
    try:
        data_export_event(export=export, user=request.user, action="downloaded")
    except BaseException:
        content.close()
        raise
    response = FileResponse(
        content,
        as_attachment=True,
        filename=services.download_name(organization=request.organization, export=export),
        content_type="application/zip",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
