from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinics.models import Role
from clinics.tenancy import ALL_ROLES, get_for_organization_or_404, staff_view
from config.ids import id_from_input

from . import selectors, services
from .exports import csv_lines
from .fit import clinic_profile
from .forms import GatekeeperForm, MergeForm, PhysicianFilterForm, PhysicianForm, PracticeForm, StageForm
from .models import Gatekeeper, Physician, Practice
from .panels import physician_panels, practice_panels

EDITORS = {Role.LIAISON, Role.ADMIN}
ADMIN_ONLY = {Role.ADMIN}
PAGE_SIZE = 25
EXPORT_HEADER = [
    "NPI",
    "Last name",
    "First name",
    "Credential",
    "Specialty",
    "Stage",
    "Tier",
    "Owner",
    "Primary practice",
    "Practice address",
    "Practice phone",
    "Practice fax",
    "Email",
    "Active",
]


def _page(request: HttpRequest, queryset):
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


def _fit_profile(request: HttpRequest):
    clinic = selectors.clinic_for_fit(
        organization=request.organization,
        clinic_id=id_from_input(request.GET.get("clinic")),
        default=request.membership.home_clinic,
    )
    return clinic_profile(clinic) if clinic else None


@staff_view(roles=ALL_ROLES)
def physician_list(request: HttpRequest) -> HttpResponse:
    form = PhysicianFilterForm(request.GET or None, organization=request.organization)
    physicians = selectors.physician_list(organization=request.organization, filters=form.filters())
    page, query = _page(request, physicians)
    return render(request, "physicians/physician_list.html", {"form": form, "page": page, "query": query})


@staff_view(roles=EDITORS)
def prospects(request: HttpRequest) -> HttpResponse:
    form = PhysicianFilterForm(request.GET or None, organization=request.organization)
    profile = _fit_profile(request)
    page, query = (None, "")
    if profile:
        ranked = selectors.prospects(
            organization=request.organization, profile=profile, filters=form.filters()
        )
        page, query = _page(request, ranked)
        selectors.explain_rows(page.object_list, profile)
    return render(
        request,
        "physicians/prospects.html",
        {"form": form, "page": page, "query": query, "profile": profile},
    )


@staff_view(roles=ALL_ROLES)
def physician_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    results = selectors.physician_search(organization=request.organization, query=query)
    return render(request, "physicians/_typeahead_results.html", {"results": results, "query": query})


@staff_view(roles=EDITORS)
def physician_export(request: HttpRequest) -> StreamingHttpResponse:
    form = PhysicianFilterForm(request.GET or None, organization=request.organization)
    rows = selectors.physician_export_rows(organization=request.organization, filters=form.filters())
    filename = f"rapport-physicians-{timezone.localdate():%Y-%m-%d}.csv"
    return StreamingHttpResponse(
        csv_lines(EXPORT_HEADER, rows),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@staff_view(roles=ALL_ROLES)
def physician_detail(request: HttpRequest, physician_id: int) -> HttpResponse:
    physician = selectors.physician_detail(organization=request.organization, physician_id=physician_id)
    affiliations = list(physician.affiliations.all())
    profile = _fit_profile(request)
    fit = selectors.physician_fit(physician=physician, profile=profile) if profile else None
    payers = sorted({payer for a in affiliations for payer in a.practice.payers.all()}, key=str)
    gatekeepers = selectors.gatekeepers_for_practices(
        organization=request.organization, practice_ids=[a.practice_id for a in affiliations]
    )
    return render(
        request,
        "physicians/physician_detail.html",
        {
            "physician": physician,
            "affiliations": affiliations,
            "payers": payers,
            "gatekeepers": gatekeepers,
            "profile": profile,
            "fit": fit,
            "stage_form": StageForm(initial={"stage": physician.stage}),
            "panels": physician_panels(request, physician),
            "clinics": selectors.active_clinics(organization=request.organization),
        },
    )


def _physician_form_page(request: HttpRequest, physician: Physician | None) -> HttpResponse:
    form = PhysicianForm(
        request.POST or None,
        instance=physician or Physician(organization=request.organization),
        organization=request.organization,
    )
    if request.method == "POST" and form.is_valid():
        arguments = form.service_arguments()
        duplicates = selectors.physician_possible_duplicates(
            organization=request.organization,
            npi="",
            first_name=arguments["first_name"],
            last_name=arguments["last_name"],
            practices=arguments["practices"],
            exclude_pk=physician.pk if physician else None,
        )
        if duplicates and not form.cleaned_data["confirm_duplicate"]:
            names = "; ".join(f"{d.display_name}" for d in duplicates)
            form.require_duplicate_confirmation(
                f"The directory already has someone with this name at this practice: {names}. "
                "Check it is not the same person."
            )
        else:
            try:
                saved = services.physician_save(
                    organization=request.organization, user=request.user, physician=physician, **arguments
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, f"Saved {saved.display_name}.")
                return redirect("physicians:detail", physician_id=saved.pk)
    return render(request, "physicians/physician_form.html", {"form": form, "physician": physician})


@staff_view(roles=EDITORS)
def physician_create(request: HttpRequest) -> HttpResponse:
    return _physician_form_page(request, physician=None)


@staff_view(roles=EDITORS)
def physician_edit(request: HttpRequest, physician_id: int) -> HttpResponse:
    physician = get_for_organization_or_404(Physician, request.organization, pk=physician_id)
    return _physician_form_page(request, physician=physician)


@require_POST
@staff_view(roles=EDITORS)
def physician_stage(request: HttpRequest, physician_id: int) -> HttpResponse:
    physician = get_for_organization_or_404(Physician, request.organization, pk=physician_id)
    form = StageForm(request.POST)
    if form.is_valid():
        services.physician_change_stage(physician=physician, user=request.user, **form.cleaned_data)
        messages.success(request, f"{physician.display_name} is now at “{physician.get_stage_display()}”.")
    else:
        messages.error(request, "Choose a relationship stage.")
    return redirect("physicians:detail", physician_id=physician.pk)


@require_POST
@staff_view(roles=EDITORS)
def physician_toggle_active(request: HttpRequest, physician_id: int) -> HttpResponse:
    physician = get_for_organization_or_404(Physician, request.organization, pk=physician_id)
    services.physician_set_active(physician=physician, active=not physician.is_active)
    state = "reactivated" if physician.is_active else "deactivated"
    messages.success(request, f"{physician.display_name} is {state}.")
    return redirect("physicians:detail", physician_id=physician.pk)


@staff_view(roles=ADMIN_ONLY)
def physician_merge(request: HttpRequest, physician_id: int) -> HttpResponse:
    keep = get_for_organization_or_404(Physician, request.organization, pk=physician_id)
    form = MergeForm(request.POST or None, keep=keep)
    if request.method == "POST" and form.is_valid():
        duplicate = form.cleaned_data["duplicate"]
        try:
            services.physician_merge(organization=request.organization, keep=keep, duplicate=duplicate)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Merged {duplicate.display_name} into {keep.display_name}.")
            return redirect("physicians:detail", physician_id=keep.pk)
    return render(request, "physicians/physician_merge.html", {"form": form, "physician": keep})


@staff_view(roles=ALL_ROLES)
def practice_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    practices = selectors.practice_list(organization=request.organization, query=query)
    page, querystring = _page(request, practices)
    return render(request, "physicians/practice_list.html", {"page": page, "query": querystring, "q": query})


@staff_view(roles=ALL_ROLES)
def practice_detail(request: HttpRequest, practice_id: int) -> HttpResponse:
    practice = selectors.practice_detail(organization=request.organization, practice_id=practice_id)
    profile = _fit_profile(request)
    fit = selectors.practice_fit(practice=practice, profile=profile) if profile else None
    return render(
        request,
        "physicians/practice_detail.html",
        {
            "practice": practice,
            "profile": profile,
            "fit": fit,
            "clinics": selectors.active_clinics(organization=request.organization),
            "panels": practice_panels(request, practice),
        },
    )


def _practice_form_page(request: HttpRequest, practice: Practice | None) -> HttpResponse:
    form = PracticeForm(
        request.POST or None,
        instance=practice or Practice(organization=request.organization),
        organization=request.organization,
    )
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.practice_save(
                organization=request.organization, practice=practice, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Saved {saved.name}.")
            return redirect("physicians:practice_detail", practice_id=saved.pk)
    return render(request, "physicians/practice_form.html", {"form": form, "practice": practice})


@staff_view(roles=EDITORS)
def practice_create(request: HttpRequest) -> HttpResponse:
    return _practice_form_page(request, practice=None)


@staff_view(roles=EDITORS)
def practice_edit(request: HttpRequest, practice_id: int) -> HttpResponse:
    practice = get_for_organization_or_404(Practice, request.organization, pk=practice_id)
    return _practice_form_page(request, practice=practice)


def _gatekeeper_form_page(request: HttpRequest, practice: Practice, gatekeeper: Gatekeeper | None):
    form = GatekeeperForm(request.POST or None, instance=gatekeeper)
    if request.method == "POST" and form.is_valid():
        try:
            services.gatekeeper_save(
                organization=request.organization,
                practice=practice,
                gatekeeper=gatekeeper,
                **form.cleaned_data,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Saved the gatekeeper.")
            return redirect("physicians:practice_detail", practice_id=practice.pk)
    return render(
        request,
        "physicians/gatekeeper_form.html",
        {"form": form, "practice": practice, "gatekeeper": gatekeeper},
    )


@staff_view(roles=EDITORS)
def gatekeeper_create(request: HttpRequest, practice_id: int) -> HttpResponse:
    practice = get_for_organization_or_404(Practice, request.organization, pk=practice_id)
    return _gatekeeper_form_page(request, practice, gatekeeper=None)


@staff_view(roles=EDITORS)
def gatekeeper_edit(request: HttpRequest, gatekeeper_id: int) -> HttpResponse:
    gatekeeper = get_for_organization_or_404(
        Gatekeeper.objects.select_related("practice"), request.organization, pk=gatekeeper_id
    )
    return _gatekeeper_form_page(request, gatekeeper.practice, gatekeeper=gatekeeper)


@require_POST
@staff_view(roles=EDITORS)
def practice_toggle_active(request: HttpRequest, practice_id: int) -> HttpResponse:
    practice = get_for_organization_or_404(Practice, request.organization, pk=practice_id)
    services.practice_set_active(practice=practice, active=not practice.is_active)
    messages.success(request, f"{practice.name} is {'reactivated' if practice.is_active else 'deactivated'}.")
    return redirect("physicians:practice_detail", practice_id=practice.pk)
