from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from clinics.clock import organization_today
from clinics.links import next_url
from clinics.roles import ALL_ROLES
from clinics.tenancy import OrganizationRequest, get_for_organization_or_404, staff_view
from config.uploads import refused_upload, upload_limit
from physicians import selectors as physician_selectors

from . import selectors, services
from .attachments import document_type, download_name
from .forms import (
    COMMON_DIAGNOSES,
    BulkTransitionForm,
    PatientSearchForm,
    PlanOfCareForm,
    ReferralDocumentForm,
    ReferralEditForm,
    ReferralFilterForm,
    ReferralForm,
    TransitionForm,
)
from .models import TRANSITIONS, LossReason, PlanOfCare, Referral, ReferralDocument, Status
from .panels import referral_panels

PAGE_SIZE = 50


@upload_limit("REFERRAL_DOCUMENT_MAX_MB")
@staff_view(roles=ALL_ROLES)
def intake(request: OrganizationRequest) -> HttpResponse:
    # Times typed at the desk are in the person's zone: OrganizationMiddleware has activated it.
    # Bound on every POST, even an empty one: keep_document reads what was cleaned.
    posted = request.method == "POST"
    form = _intake_form(request, request.POST if posted else None, request.FILES if posted else None)
    context: dict[str, object] = {}
    if posted:
        # Whatever the form comes back for, the document attached to it comes back too.
        form.keep_document(user=request.user, refused=refused_upload(request, "document"))
        if FIND_PHYSICIAN in request.POST:
            form, context = _find_physician(request, form)
        elif form.is_valid():
            response = _save_intake(request, form)
            if response:
                return response
    return render(request, "referrals/intake.html", {**_intake_context(form), **context})


# The no-JavaScript search button: lists matching physicians instead of saving.
FIND_PHYSICIAN = "find_physician"


def _intake_form(request: OrganizationRequest, *args, **kwargs) -> ReferralForm:
    return ReferralForm(
        *args,
        initial={
            "received_at": timezone.localtime().replace(second=0, microsecond=0),
            "clinic": request.membership.home_clinic,
            **kwargs.pop("initial", {}),
        },
        instance=Referral(organization=request.organization),
        organization=request.organization,
        **kwargs,
    )


def _intake_context(form: ReferralForm) -> dict:
    chosen = getattr(form, "cleaned_data", {}).get("physician") if form.is_bound else None
    return {
        "form": form,
        "common_diagnoses": COMMON_DIAGNOSES,
        "physician_label": chosen.display_name if chosen else (form["q"].value() or ""),
    }


def _find_physician(request: OrganizationRequest, form: ReferralForm) -> tuple[ReferralForm, dict]:
    """The intake form as typed, unsaved and without errors, with the physicians matching its search box.

    For a desk without JavaScript: the typeahead cannot list matches, so this
    round trip does. The document stays attached (kept server-side), and the
    form is shown as typed, not checked: it is not finished yet.
    """
    query = request.POST.get("q", "").strip()
    typed = _intake_form(
        request, initial={name: value for name, value in request.POST.items() if name in form.fields}
    )
    typed.kept = form.kept
    matches = physician_selectors.physician_search(organization=request.organization, query=query)
    return typed, {
        "physician_searched": True,
        "physician_query": query,
        "physician_matches": matches,
        "document_errors": form.errors.get("document"),
    }


def _save_intake(request: OrganizationRequest, form: ReferralForm) -> HttpResponse | None:
    fields = form.referral_fields()
    duplicates = selectors.referral_possible_duplicates(
        organization=request.organization,
        first_name=fields.patient_first_name,
        last_name=fields.patient_last_name,
        birth_date=fields.patient_birth_date,
        received_at=fields.received_at,
    )
    latest = duplicates.first()
    warning = _duplicate_warning(latest) if latest else ""
    if form.needs_duplicate_confirmation(warning):
        return None
    try:
        referral = services.referral_intake(
            organization=request.organization,
            user=request.user,
            fields=fields,
            new_physician=form.new_physician(),
            pending_document=form.kept,
        )
    except ValidationError as error:
        form.add_error(None, error)
        return None
    messages.success(request, f"Referral #{referral.pk} logged. Ready for the next one.")
    return redirect("referrals:intake")


def _duplicate_warning(earlier: Referral) -> SafeString:
    """What the desk needs to tell whether `earlier` is this same referral: when, from whom, for what.

    The link opens in a new tab, so the form being typed (and its document)
    stays as it is; it carries the referral's id only, never the patient.
    """
    diagnoses = ", ".join(earlier.diagnosis_codes)
    return format_html(
        "This patient was referred on {} by {}{}: "
        '<a href="{}" target="_blank" rel="noopener">referral #{}<span class="visually-hidden"> '
        "(opens in a new tab)</span></a>, {}. Check it is not the same referral.",
        f"{timezone.localtime(earlier.received_at):%b %-d}",
        earlier.source_label,
        f" for {diagnoses}" if diagnoses else "",
        reverse("referrals:detail", args=[earlier.pk]),
        earlier.pk,
        earlier.get_status_display().lower(),
    )


@staff_view(roles=ALL_ROLES)
def queues(request: OrganizationRequest) -> HttpResponse:
    rules = selectors.referral_settings_get(organization=request.organization)
    context: dict[str, object] = {
        name: selectors.queue(organization=request.organization, name=name, rules=rules)
        for name in selectors.QUEUES
    }
    context["sla_days"] = rules.contact_sla_business_days
    return render(request, "referrals/queues.html", context)


@sensitive_post_parameters("name", "birth_date")
@staff_view(roles=ALL_ROLES)
def patient_search(request: OrganizationRequest) -> HttpResponse:
    """Referrals found by the patient's name and date of birth.

    Only a POST searches, so the name never reaches a URL, the browser's
    history or an access log; error reports leave both fields out.
    """
    form = PatientSearchForm(request.POST if request.method == "POST" else None)
    results = None
    if form.is_valid():
        results = selectors.referrals_of_patient(
            organization=request.organization,
            name=form.cleaned_data["name"],
            birth_date=form.cleaned_data["birth_date"],
        )
    return render(
        request,
        "referrals/patient_search.html",
        {
            "form": form,
            "results": results,
            "title": "Find a patient's referrals",
            "back_url": "referrals:list",
            "back_label": "Referrals",
        },
    )


@staff_view(roles=ALL_ROLES)
def referral_list(request: OrganizationRequest) -> HttpResponse:
    form = ReferralFilterForm(request.GET or None, organization=request.organization)
    filters = form.filters()
    referrals = selectors.referral_list(organization=request.organization, filters=filters)
    page = Paginator(referrals, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = selectors.status_counts(organization=request.organization)
    query = request.GET.copy()
    query.pop("page", None)
    other_filters = query.copy()
    other_filters.pop("status", None)
    return render(
        request,
        "referrals/referral_list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "other_filters": other_filters.urlencode(),
            "status": request.GET.get("status", ""),
            "statuses": [(value, label, counts.get(value, 0)) for value, label in Status.choices],
            "loss_reasons": LossReason.choices,
            "physician": filters.get("physician"),
        },
    )


@require_POST
@staff_view(roles=ALL_ROLES)
def bulk_transition(request: OrganizationRequest) -> HttpResponse:
    form = BulkTransitionForm(request.POST, organization=request.organization)
    if not form.is_valid():
        messages.error(request, "Tick the referrals to move and choose where to move them.")
        return redirect(next_url(request, default="referrals:list"))
    to_status = Status(form.cleaned_data["to_status"])
    try:
        moved = services.referral_transition_many(
            organization=request.organization,
            user=request.user,
            referral_ids=[referral.pk for referral in form.cleaned_data["referrals"]],
            to_status=to_status,
            loss_reason=form.cleaned_data["loss_reason"],
        )
    except services.ReferralsNotMoved as refusal:
        messages.error(
            request,
            f"Nothing was moved: {len(refusal.messages)} of the referrals you ticked cannot become "
            f"{to_status.label.lower()}. Untick them, or move them another way, then try again.",
        )
        for reason in refusal.messages:
            messages.error(request, reason)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Moved {len(moved)} referral{'s' if len(moved) != 1 else ''}.")
    return redirect(next_url(request, default="referrals:list"))


@staff_view(roles=ALL_ROLES)
def referral_detail(request: OrganizationRequest, referral_id: int) -> HttpResponse:
    referral = get_for_organization_or_404(
        Referral.objects.select_related("clinic", "physician", "payer", "therapist", "created_by"),
        request.organization,
        pk=referral_id,
    )
    form = ReferralEditForm(request.POST or None, instance=referral, organization=request.organization)
    if request.method == "POST" and form.is_valid():
        try:
            services.referral_update(
                referral=referral,
                acting=request.membership,
                version=form.cleaned_data["version"],
                details=form.details(),
            )
        except services.StaleReferral as error:
            form.add_error(None, error)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Saved.")
            return redirect("referrals:detail", referral_id=referral.pk)
    if request.method == "POST":
        referral.refresh_from_db()
    return render(
        request,
        "referrals/referral_detail.html",
        {
            "referral": referral,
            "form": form,
            "panels": referral_panels(request, referral),
            "history": selectors.referral_history(referral=referral),
            "documents": selectors.referral_documents(organization=request.organization, referral=referral),
            "document_form": ReferralDocumentForm(),
            "milestones": selectors.referral_milestones(referral=referral),
            "next_statuses": [Status(s) for s in Status.values if s in TRANSITIONS[referral.status]],
            "loss_reasons": LossReason.choices,
            "common_diagnoses": COMMON_DIAGNOSES,
            "plans": selectors.referral_plans(
                organization=request.organization,
                referral=referral,
                today=organization_today(request.organization),
            ),
            "plan_form": PlanOfCareForm(
                initial={"certifier": referral.physician_id}, organization=request.organization
            ),
        },
    )


@require_POST
@staff_view(roles=ALL_ROLES)
def transition(request: OrganizationRequest, referral_id: int) -> HttpResponse:
    referral = get_for_organization_or_404(Referral, request.organization, pk=referral_id)
    form = TransitionForm(request.POST)
    if form.is_valid():
        try:
            moved = services.referral_transition(
                referral=referral,
                user=request.user,
                to_status=form.cleaned_data["to_status"],
                version=form.cleaned_data["version"],
                loss_reason=form.cleaned_data["loss_reason"],
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Referral #{moved.pk} is now {moved.get_status_display().lower()}.")
    else:
        messages.error(request, "Choose the next step.")
    return redirect("referrals:detail", referral_id=referral.pk)


@require_POST
@staff_view(roles=ALL_ROLES)
def plan_save(request: OrganizationRequest, referral_id: int, plan_id: int | None = None) -> HttpResponse:
    """Adds a plan of care to a referral, or records that one was sent or signed."""
    referral = get_for_organization_or_404(Referral, request.organization, pk=referral_id)
    plan = (
        get_for_organization_or_404(PlanOfCare, request.organization, pk=plan_id, referral=referral)
        if plan_id
        else None
    )
    form = PlanOfCareForm(
        request.POST,
        instance=plan or PlanOfCare(organization=request.organization, referral=referral),
        organization=request.organization,
    )
    if form.is_valid():
        try:
            services.plan_of_care_save(
                organization=request.organization,
                referral=referral,
                plan=plan,
                fields=services.PlanOfCareFields.from_cleaned_data(form.cleaned_data),
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "Plan of care saved.")
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("referrals:detail", referral_id=referral.pk)


@staff_view(roles=ALL_ROLES)
def plans_awaiting_signature(request: OrganizationRequest) -> HttpResponse:
    rules = selectors.referral_settings_get(organization=request.organization)
    groups = selectors.plans_awaiting_signature(
        organization=request.organization, today=organization_today(request.organization), rules=rules
    )
    return render(
        request,
        "referrals/plans_awaiting.html",
        {"groups": groups, "signature_days": rules.poc_signature_days},
    )


@require_POST
@upload_limit("REFERRAL_DOCUMENT_MAX_MB")
@staff_view(roles=ALL_ROLES)
def document_add(request: OrganizationRequest, referral_id: int) -> HttpResponse:
    """Adds a document to a referral after intake: a second page faxed later."""
    referral = get_for_organization_or_404(Referral, request.organization, pk=referral_id)
    form = ReferralDocumentForm(request.POST, request.FILES)
    refused = refused_upload(request, "document")
    if refused:
        messages.error(request, refused)
    elif form.is_valid():
        services.referral_document_add(
            referral=referral, user=request.user, upload=form.cleaned_data["document"]
        )
        messages.success(request, "Document added.")
    else:
        messages.error(request, " ".join(str(e) for e in form.errors["document"]))
    return redirect("referrals:detail", referral_id=referral.pk)


@staff_view(roles=ALL_ROLES)
def document(request: OrganizationRequest, referral_id: int, document_id: int) -> FileResponse:
    stored = get_for_organization_or_404(
        ReferralDocument, request.organization, pk=document_id, referral_id=referral_id
    )
    try:
        content = stored.file.open("rb")
    except FileNotFoundError:
        raise Http404("This document's file is missing.") from None
    # Type and name come from the sniffed content alone, never from the uploader's file name.
    response = FileResponse(
        content,
        as_attachment=True,
        filename=download_name(
            referral_id=stored.referral_id, document_id=stored.pk, content_type=stored.content_type
        ),
        content_type=document_type(stored.content_type).content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@staff_view(roles=ALL_ROLES)
def referral_board(request: OrganizationRequest) -> HttpResponse:
    return render(
        request, "referrals/board.html", {"columns": selectors.board(organization=request.organization)}
    )
