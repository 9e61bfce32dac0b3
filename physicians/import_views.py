"""Pages for importing the public NPI registry (NPPES) file."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from audit.recording import shows_no_patient_data
from clinics.roles import ADMINS
from clinics.tenancy import OrganizationRequest, get_for_organization_or_404, staff_view
from config.uploads import upload_limit

from .forms import NppesUploadForm
from .models import NppesImport
from .nppes import nppes_import_enqueue


@upload_limit("NPPES_UPLOAD_MAX_MB")
@shows_no_patient_data("NPPES imports: public provider data")
@staff_view(roles=ADMINS)
def import_list(request: OrganizationRequest) -> HttpResponse:
    form = NppesUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = nppes_import_enqueue(
            organization=request.organization,
            user=request.user,
            uploaded_file=form.cleaned_data["file"],
            states=form.cleaned_data["states"],
            taxonomies=form.cleaned_data["taxonomies"],
        )
        messages.success(request, "The file is uploaded; the import runs in the background.")
        return redirect("physicians:import_detail", import_id=job.pk)
    imports = NppesImport.objects.for_organization(request.organization).select_related("created_by")[:20]
    return render(request, "physicians/import_list.html", {"form": form, "imports": imports})


@shows_no_patient_data("an NPPES import's progress")
@staff_view(roles=ADMINS)
def import_detail(request: OrganizationRequest, import_id: int) -> HttpResponse:
    job = get_for_organization_or_404(NppesImport, request.organization, pk=import_id)
    template = "physicians/_import_progress.html" if request.htmx else "physicians/import_detail.html"
    return render(request, template, {"job": job})
