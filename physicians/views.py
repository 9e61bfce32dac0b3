from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from audit.models import AccessKind
from audit.recording import records_access, shows_no_patient_data
from clinics.clock import person_today
from clinics.history import HistorySource, record_change_history
from clinics.roles import ADMINS, ALL_ROLES
from clinics.tenancy import OrganizationRequest, get_for_organization_or_404, staff_view
from config.ids import id_from_input
from config.spreadsheets import csv_download

from . import selectors, services
from .fit import STRONG_FIT, clinic_profile
from .forms import GatekeeperForm, MergeForm, PhysicianFilterForm, PhysicianForm, PracticeForm, StageForm
from .models import Gatekeeper, Physician, Practice
from .panels import physician_panels, practice_panels
from .roles import DIRECTORY_EDITORS

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


def _page(request: OrganizationRequest, queryset):
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


def _fit_profile(request: OrganizationRequest):
    clinic = selectors.clinic_for_fit(
        organization=request.organization,
        clinic_id=id_from_input(request.GET.get("clinic")),
        default=request.membership.home_clinic,
    )
    return clinic_profile(clinic) if clinic else None


@shows_no_patient_data("the directory: physicians and practices")
@staff_view(roles=ALL_ROLES)
def physician_list(request: OrganizationRequest) -> HttpResponse:
    form = PhysicianFilterForm(request.GET or None, organization=request.organization)
    physicians = selectors.physician_list(organization=request.organization, filters=form.filters())
    page, query = _page(request, physicians)
    return render(request, "physicians/physician_list.html", {"form": form, "page": page, "query": query})


@shows_no_patient_data("physicians ranked by fit")
@staff_view(roles=DIRECTORY_EDITORS)
def prospects(request: OrganizationRequest) -> HttpResponse:
    """Prospects by fit with a clinic; `?strong=1` keeps those fitting strongly (the home page's count)."""
    form = PhysicianFilterForm(request.GET or None, organization=request.organization)
    profile = _fit_profile(request)
    strong = request.GET.get("strong") == "1"
    page, query = (None, "")
    if profile:
        ranked = selectors.prospects(
            organization=request.organization,
            profile=profile,
            filters=form.filters(),
            min_fit=STRONG_FIT if strong else 0,
        )
        page, query = _page(request, ranked)
        selectors.explain_rows(page.object_list, profile)
    return render(
        request,
        "physicians/prospects.html",
        {
            "form": form,
            "page": page,
            "query": query,
            "profile": profile,
            "strong": strong,
            "strong_fit": STRONG_FIT,
        },
    )


@shows_no_patient_data("the typeahead's physicians")
@staff_view(roles=ALL_ROLES)
def physician_search(request: OrganizationRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    results = selectors.physician_search(organization=request.organization, query=query)
    return render(request, "physicians/_typeahead_results.html", {"results": results, "query": query})


@records_access(kind=AccessKind.EXPORT)
@staff_view(roles=DIRECTORY_EDITORS)
def physician_export(request: OrganizationRequest) -> StreamingHttpResponse:
    form = PhysicianFilterForm(request.GET or None, organization=request.organization)
    rows = selectors.physician_export_rows(organization=request.organization, filters=form.filters())
    filename = f"rapport-physicians-{person_today(request.membership):%Y-%m-%d}.csv"
    return csv_download(filename=filename, header=EXPORT_HEADER, rows=rows)


@records_access(object_kwarg="physician_id", object_type="physician")
@staff_view(roles=ALL_ROLES)
def physician_detail(request: OrganizationRequest, physician_id: int) -> HttpResponse:
    physician = selectors.physician_detail(organization=request.organization, physician_id=physician_id)
    affiliations = list(physician.affiliations.all())
    profile = _fit_profile(request)
    fit = selectors.physician_fit(physician=physician, profile=profile) if profile else None
    payers = sorted({payer for a in affiliations for payer in a.practice.payers.all()}, key=str)
    gatekeepers = list(
        selectors.gatekeepers_for_practices(
            organization=request.organization, practice_ids=[a.practice_id for a in affiliations]
        )
    )
    return render(
        request,
        "physicians/physician_detail.html",
        {
            "physician": physician,
            # Each practice with its own gatekeepers: whom to call there, together.
            "practices": [
                (affiliation, [g for g in gatekeepers if g.practice_id == affiliation.practice_id])
                for affiliation in affiliations
            ],
            "payers": payers,
            "profile": profile,
            "fit": fit,
            "stage_form": StageForm(initial={"stage": physician.stage}),
            "panels": physician_panels(request, physician),
            "clinics": selectors.active_clinics(organization=request.organization),
            "change_history": record_change_history(
                organization=request.organization, role=request.membership.role, record=physician
            ),
        },
    )


def _physician_form_page(request: OrganizationRequest, physician: Physician | None) -> HttpResponse:
    form = PhysicianForm(
        request.POST or None,
        instance=physician or Physician(organization=request.organization),
        organization=request.organization,
    )
    if request.method == "POST" and form.is_valid():
        fields, practices = form.physician_fields(), form.practices()
        duplicates = selectors.physician_possible_duplicates(
            organization=request.organization,
            npi="",
            first_name=fields.first_name,
            last_name=fields.last_name,
            practices=practices,
            exclude_pk=physician.pk if physician else None,
        )
        warning = (
            "The directory already has someone with this name at this practice: "
            f"{'; '.join(d.display_name for d in duplicates)}. Check it is not the same person."
            if duplicates
            else ""
        )
        if not form.needs_duplicate_confirmation(warning):
            try:
                saved = services.physician_save(
                    organization=request.organization,
                    user=request.user,
                    physician=physician,
                    fields=fields,
                    practices=practices,
                    primary_practice=form.cleaned_data["primary_practice"],
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, f"Saved {saved.display_name}.")
                return redirect("physicians:detail", physician_id=saved.pk)
    cancel_url = (
        reverse("physicians:detail", args=[physician.pk]) if physician else reverse("physicians:list")
    )
    return render(
        request,
        "physicians/physician_form.html",
        {"form": form, "physician": physician, "cancel_url": cancel_url},
    )


@shows_no_patient_data("a physician's form")
@staff_view(roles=DIRECTORY_EDITORS)
def physician_create(request: OrganizationRequest) -> HttpResponse:
    return _physician_form_page(request, physician=None)


@shows_no_patient_data("a physician's form")
@staff_view(roles=DIRECTORY_EDITORS)
def physician_edit(request: OrganizationRequest, physician_id: int) -> HttpResponse:
    physician = get_for_organization_or_404(Physician, request.organization, pk=physician_id)
    return _physician_form_page(request, physician=physician)


@require_POST
@shows_no_patient_data("moves a physician's relationship stage")
@staff_view(roles=DIRECTORY_EDITORS)
def physician_stage(request: OrganizationRequest, physician_id: int) -> HttpResponse:
    physician = get_for_organization_or_404(Physician, request.organization, pk=physician_id)
    form = StageForm(request.POST)
    if form.is_valid():
        services.physician_change_stage(physician=physician, user=request.user, **form.cleaned_data)
        messages.success(request, f"{physician.display_name} is now at “{physician.get_stage_display()}”.")
    else:
        messages.error(request, "Choose a relationship stage.")
    return redirect("physicians:detail", physician_id=physician.pk)


@require_POST
@shows_no_patient_data("deactivates a physician")
@staff_view(roles=DIRECTORY_EDITORS)
def physician_toggle_active(request: OrganizationRequest, physician_id: int) -> HttpResponse:
    physician = get_for_organization_or_404(Physician, request.organization, pk=physician_id)
    services.physician_set_active(physician=physician, active=not physician.is_active)
    state = "reactivated" if physician.is_active else "deactivated"
    messages.success(request, f"{physician.display_name} is {state}.")
    return redirect("physicians:detail", physician_id=physician.pk)


@shows_no_patient_data("two physicians' records and their counts")
@staff_view(roles=ADMINS)
def physician_merge(request: OrganizationRequest, physician_id: int) -> HttpResponse:
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
    return render(
        request,
        "physicians/physician_merge.html",
        {"form": form, "physician": keep, "cancel_url": reverse("physicians:detail", args=[keep.pk])},
    )


@shows_no_patient_data("the directory's practices")
@staff_view(roles=ALL_ROLES)
def practice_list(request: OrganizationRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    practices = selectors.practice_list(organization=request.organization, query=query)
    page, querystring = _page(request, practices)
    return render(request, "physicians/practice_list.html", {"page": page, "query": querystring, "q": query})


@records_access(object_kwarg="practice_id", object_type="practice")
@staff_view(roles=ALL_ROLES)
def practice_detail(request: OrganizationRequest, practice_id: int) -> HttpResponse:
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
            "change_history": record_change_history(
                organization=request.organization,
                role=request.membership.role,
                record=practice,
                also=[HistorySource(Gatekeeper, {"practice_id": practice.pk}, "Gatekeeper")],
            ),
        },
    )


def _practice_form_page(request: OrganizationRequest, practice: Practice | None) -> HttpResponse:
    form = PracticeForm(
        request.POST or None,
        instance=practice or Practice(organization=request.organization),
        organization=request.organization,
    )
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.practice_save(
                organization=request.organization,
                practice=practice,
                fields=services.PracticeFields.from_cleaned_data(form.cleaned_data),
                populations=form.cleaned_data["populations"],
                payers=form.cleaned_data["payers"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Saved {saved.name}.")
            return redirect("physicians:practice_detail", practice_id=saved.pk)
    cancel_url = (
        reverse("physicians:practice_detail", args=[practice.pk])
        if practice
        else reverse("physicians:practice_list")
    )
    return render(
        request,
        "physicians/practice_form.html",
        {"form": form, "practice": practice, "cancel_url": cancel_url},
    )


@shows_no_patient_data("a practice's form")
@staff_view(roles=DIRECTORY_EDITORS)
def practice_create(request: OrganizationRequest) -> HttpResponse:
    return _practice_form_page(request, practice=None)


@shows_no_patient_data("a practice's form")
@staff_view(roles=DIRECTORY_EDITORS)
def practice_edit(request: OrganizationRequest, practice_id: int) -> HttpResponse:
    practice = get_for_organization_or_404(Practice, request.organization, pk=practice_id)
    return _practice_form_page(request, practice=practice)


def _gatekeeper_form_page(request: OrganizationRequest, practice: Practice, gatekeeper: Gatekeeper | None):
    form = GatekeeperForm(request.POST or None, instance=gatekeeper)
    if request.method == "POST" and form.is_valid():
        try:
            services.gatekeeper_save(
                organization=request.organization,
                practice=practice,
                gatekeeper=gatekeeper,
                fields=services.GatekeeperFields.from_cleaned_data(form.cleaned_data),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Saved the gatekeeper.")
            return redirect("physicians:practice_detail", practice_id=practice.pk)
    return render(
        request,
        "physicians/gatekeeper_form.html",
        {
            "form": form,
            "practice": practice,
            "gatekeeper": gatekeeper,
            "cancel_url": reverse("physicians:practice_detail", args=[practice.pk]),
        },
    )


@shows_no_patient_data("a gatekeeper's form")
@staff_view(roles=DIRECTORY_EDITORS)
def gatekeeper_create(request: OrganizationRequest, practice_id: int) -> HttpResponse:
    practice = get_for_organization_or_404(Practice, request.organization, pk=practice_id)
    return _gatekeeper_form_page(request, practice, gatekeeper=None)


@shows_no_patient_data("a gatekeeper's form")
@staff_view(roles=DIRECTORY_EDITORS)
def gatekeeper_edit(request: OrganizationRequest, gatekeeper_id: int) -> HttpResponse:
    gatekeeper = get_for_organization_or_404(
        Gatekeeper.objects.select_related("practice"), request.organization, pk=gatekeeper_id
    )
    return _gatekeeper_form_page(request, gatekeeper.practice, gatekeeper=gatekeeper)


@require_POST
@shows_no_patient_data("deactivates a practice")
@staff_view(roles=DIRECTORY_EDITORS)
def practice_toggle_active(request: OrganizationRequest, practice_id: int) -> HttpResponse:
    practice = get_for_organization_or_404(Practice, request.organization, pk=practice_id)
    services.practice_set_active(practice=practice, active=not practice.is_active)
    messages.success(request, f"{practice.name} is {'reactivated' if practice.is_active else 'deactivated'}.")
    return redirect("physicians:practice_detail", practice_id=practice.pk)
