"""Pages for importing the EMR's visit and payment reports, and for the rows they could not match."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from audit.recording import records_access, shows_no_patient_data
from clinics.tenancy import OrganizationRequest, get_for_organization_or_404, staff_view
from config.uploads import upload_limit
from referrals.models import Referral

from . import importing
from .forms import ImportUploadForm, ReviewResolveForm, mapping_form
from .models import BillingImport, ReviewRow, ReviewStatus
from .reading import ReportError
from .roles import IMPORTERS

REVIEW_PAGE_SIZE = 50


@upload_limit("BILLING_UPLOAD_MAX_MB")
@shows_no_patient_data("the list of imported files and their counts")
@staff_view(roles=IMPORTERS)
def import_list(request: OrganizationRequest) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = importing.billing_import_upload(
                organization=request.organization,
                user=request.user,
                kind=form.cleaned_data["kind"],
                uploaded_file=form.cleaned_data["file"],
                encoding=form.cleaned_data["encoding"],
            )
        except ValidationError as error:
            form.add_error("file", error)
        else:
            if job.mapped:
                messages.success(
                    request, "A report of this shape was mapped before: the import runs in the background."
                )
            return redirect("billing:import_detail", billing_import_id=job.pk)
    imports = BillingImport.objects.for_organization(request.organization).select_related("created_by")[:20]
    pending = (
        ReviewRow.objects.for_organization(request.organization).filter(status=ReviewStatus.PENDING).count()
    )
    return render(request, "billing/import_list.html", {"form": form, "imports": imports, "pending": pending})


@records_access(object_kwarg="billing_import_id", object_type="billing import")
@staff_view(roles=IMPORTERS)
def import_detail(request: OrganizationRequest, billing_import_id: int) -> HttpResponse:
    job = get_for_organization_or_404(BillingImport, request.organization, pk=billing_import_id)
    if job.mapped:
        template = "billing/_import_progress.html" if request.htmx else "billing/import_detail.html"
        return render(request, template, {"job": job})
    try:
        preview = importing.billing_import_preview(job=job)
    except (ReportError, OSError):
        messages.error(request, "The uploaded file can no longer be read; upload it again.")
        return redirect("billing:import_list")
    form = mapping_form(request.POST or None, kind=job.kind, header=preview.header, mapping=job.mapping)
    if request.method == "POST" and form.is_valid():
        try:
            importing.billing_import_map(job=job, user=request.user, mapping=form.mapping())
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                "Mapping saved: reports of this shape will be recognized. The import runs in the background.",
            )
            return redirect("billing:import_detail", billing_import_id=job.pk)
    return render(request, "billing/import_mapping.html", {"job": job, "form": form, "preview": preview})


@records_access()
@staff_view(roles=IMPORTERS)
def review_list(request: OrganizationRequest) -> HttpResponse:
    rows = (
        ReviewRow.objects.for_organization(request.organization)
        .filter(status=ReviewStatus.PENDING)
        .order_by("import_run_id", "line_number", "pk")
    )
    page = Paginator(rows, REVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
    candidate_ids = {pk for row in page.object_list for pk in row.candidate_ids}
    candidates = (
        Referral.objects.for_organization(request.organization)
        .filter(pk__in=candidate_ids)
        .select_related("physician")
    )
    by_id = {referral.pk: referral for referral in candidates}
    for row in page.object_list:
        row.candidates = [by_id[pk] for pk in row.candidate_ids if pk in by_id]  # type: ignore[attr-defined]
    return render(request, "billing/review_list.html", {"page": page})


@require_POST
@records_access(object_kwarg="review_id", object_type="billing review row")
@staff_view(roles=IMPORTERS)
def review_resolve(request: OrganizationRequest, review_id: int) -> HttpResponse:
    review = get_for_organization_or_404(ReviewRow, request.organization, pk=review_id)
    form = ReviewResolveForm(request.POST)
    if not form.is_valid():
        messages.error(
            request,
            " ".join(str(error) for error in form.non_field_errors()) or "Choose the referral by its number.",
        )
        return redirect("billing:review_list")
    referral = None
    if not form.cleaned_data["dismiss"]:
        referral = (
            Referral.objects.for_organization(request.organization)
            .filter(number=form.cleaned_data["referral"])
            .first()
        )
        if referral is None:
            messages.error(
                request,
                f"Line {review.line_number}: no referral #{form.cleaned_data['referral']} in your list.",
            )
            return redirect("billing:review_list")
    try:
        importing.review_row_resolve(acting=request.membership, review=review, referral=referral)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            f"Line {review.line_number} dismissed."
            if referral is None
            else f"Line {review.line_number} saved to referral #{referral.number}.",
        )
    return redirect("billing:review_list")
