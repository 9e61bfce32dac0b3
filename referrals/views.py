from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from audit.models import AccessKind
from audit.recording import records_access
from clinics.clock import clinic_clock, organization_today
from clinics.history import HistorySource, record_change_history
from clinics.links import next_url, safe_next
from clinics.roles import ALL_ROLES
from clinics.tenancy import OrganizationRequest, get_for_organization_or_404, staff_view
from config.uploads import refused_upload, upload_limit
from physicians import selectors as physician_selectors

from . import selectors, services
from .attachments import document_type, download_name
from .diagnoses import diagnosis_lookup
from .forms import (
    BULK_STATUSES,
    COMMON_DIAGNOSES,
    AppointmentForm,
    BulkTransitionForm,
    ContactAttemptForm,
    PatientSearchForm,
    PlanOfCareForm,
    ReferralDocumentForm,
    ReferralEditForm,
    ReferralFilterForm,
    ReferralForm,
    TransitionForm,
)
from .models import (
    TRANSITIONS,
    ContactAttempt,
    LossReason,
    PlanOfCare,
    Referral,
    ReferralDocument,
    Status,
)
from .panels import referral_panels
from .plans import PlanStatus
from .roles import CARE

PAGE_SIZE = 50
# Rows of each queue on the page that shows them side by side; the rest are a click away.
QUEUE_PREVIEW = 20


@upload_limit("REFERRAL_DOCUMENT_MAX_MB")
@records_access()
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
            "received_at": _now_on_the_minute(),
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
    # Both questions are asked at once, so the desk answers them in one round trip.
    asks_duplicate = form.needs_duplicate_confirmation(warning)
    if asks_duplicate or form.needs_diagnosis_choice():
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
    messages.success(request, f"Referral #{referral.number} logged. Ready for the next one.")
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
        earlier.number,
        earlier.get_status_display().lower(),
    )


@records_access()
@staff_view(roles=ALL_ROLES)
def queues(request: OrganizationRequest) -> HttpResponse:
    """The work queues side by side, the oldest of each with its count; `?queue=<name>` pages through one.

    `&late=1` keeps that queue's late referrals. The home page's counts lead
    here, each to the rows it counted.
    """
    organization = request.organization
    rules = selectors.referral_settings_get(organization=organization)
    now = timezone.now()
    only = request.GET.get("queue", "")
    if only in selectors.QUEUES:
        late_only = only == "needs_contact" and request.GET.get("late") == "1"
        referrals = selectors.queue_referrals(
            organization=organization, name=only, now=now, rules=rules, late_only=late_only
        )
        page = Paginator(referrals, PAGE_SIZE).get_page(request.GET.get("page"))
        rows = selectors.queue_rows(page.object_list, name=only, now=now, rules=rules)
        shown = [(only, selectors.QUEUE_TITLES[only], rows, page.paginator.count)]
        query = urlencode({"queue": only, **({"late": "1"} if late_only else {})})
    else:
        late_only, page, query = False, None, ""
        counts = selectors.queue_counts(organization=organization)
        shown = [
            (
                name,
                title,
                selectors.queue(
                    organization=organization, name=name, now=now, rules=rules, limit=QUEUE_PREVIEW
                ),
                counts[name],
            )
            for name, title in selectors.QUEUE_TITLES.items()
        ]
    return render(
        request,
        "referrals/queues.html",
        {
            "queues": shown,
            "one_queue": page is not None,
            "page": page,
            "query": query,
            "late_only": late_only,
            "sla_days": rules.contact_sla_business_days,
            "unreachable_after": rules.unreachable_after_attempts,
        },
    )


@sensitive_post_parameters("name", "birth_date")
@records_access()
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


@records_access()
@staff_view(roles=ALL_ROLES)
def referral_list(request: OrganizationRequest) -> HttpResponse:
    form = ReferralFilterForm(request.GET or None, organization=request.organization)
    filters = form.filters()
    referrals = selectors.referral_list(organization=request.organization, filters=filters)
    page = Paginator(referrals, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = selectors.status_counts(organization=request.organization, filters=filters)
    query = request.GET.copy()
    query.pop("page", None)
    other_filters = query.copy()
    other_filters.pop("status", None)
    without_received_on = query.copy()
    without_received_on.pop("received_on", None)
    # Filters a link set (a dashboard's figure, a practice's page): named in words, with a way out.
    narrowing = {name: value for name, value in form.hidden_filters().items() if name != "received_on"}
    without_narrowing = query.copy()
    for name in narrowing:
        without_narrowing.pop(name, None)
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
            "bulk_statuses": BULK_STATUSES,
            # Each referral's page walks on through this list ("Next in queue").
            "worklist_query": urlencode({LIST_PARAMETER: query.urlencode()}),
            "loss_reasons": LossReason.choices,
            "physician": filters.get("physician"),
            "received_on": filters.get("received_on"),
            "without_received_on": without_received_on.urlencode(),
            "narrowing_fields": [form[name] for name in narrowing],
            "narrowing": form.description(narrowing) if narrowing else "",
            "without_narrowing": without_narrowing.urlencode(),
        },
    )


@require_POST
@records_access()
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


# The list a referral's page was opened from, carried in its address so that
# "Next in queue" walks on through it: a work queue by name, or the referral
# list's own query string (statuses, clinics, physicians, dates; never a patient).
QUEUE_PARAMETER = "queue"
LIST_PARAMETER = "list"


@dataclass(frozen=True)
class Origin:
    """Where a referral's page was opened from, and how to go back or on."""

    worklist: selectors.WorkList
    # Added to the next referral's address, so it walks on through the same list.
    query: str
    back_url: str


def _origin(request: OrganizationRequest, query: QueryDict) -> Origin | None:
    """The list named by a referral page's `queue` or `list` parameter, or None when neither names one."""
    name = query.get(QUEUE_PARAMETER, "")
    if name in selectors.QUEUES:
        return Origin(
            worklist=selectors.WorkList(queue=name),
            query=urlencode({QUEUE_PARAMETER: name}),
            back_url=f"{reverse('referrals:queues')}#{name}-heading",
        )
    if LIST_PARAMETER not in query:
        return None
    back_url = safe_next(request, f"{reverse('referrals:list')}?{query[LIST_PARAMETER]}")
    if back_url is None:
        return None
    filters = ReferralFilterForm(QueryDict(urlsplit(back_url).query), organization=request.organization)
    return Origin(
        worklist=selectors.WorkList(filters=filters.filters()),
        query=urlencode({LIST_PARAMETER: query[LIST_PARAMETER]}),
        back_url=back_url,
    )


def _here(request: OrganizationRequest, referral: Referral) -> str:
    """The referral page's own address with the list it came from: where its forms come back to.

    A form posted from the page names it in `next`; checked like any return
    address, it must be this referral's page.
    """
    page = reverse("referrals:detail", args=[referral.pk])
    if request.method != "POST":
        return request.get_full_path()
    posted = safe_next(request, request.POST.get("next"))
    return posted if posted and urlsplit(posted).path == page else page


def _now_on_the_minute():
    """Now on the person's clock, as a form starts from it (intake's "received" too)."""
    return timezone.localtime().replace(second=0, microsecond=0)


def _referral_page(request: OrganizationRequest, referral_id: int) -> Referral:
    return get_for_organization_or_404(
        selectors.with_contact_attempts(
            Referral.objects.select_related(
                "clinic", "physician", "payer", "therapist", "created_by", "first_appointment_clinic"
            )
        ),
        request.organization,
        pk=referral_id,
    )


def _plan_certifier(referral: Referral, plan_form: PlanOfCareForm | None, *, typed: str) -> dict[str, object]:
    """The plan form's certifier box: the referrer at first; after an error, what was chosen or typed.

    A name typed but never chosen comes back as typed, with no physician behind
    it, so pressing Add plan again cannot save someone else as the certifier.
    """
    if plan_form is None:
        referrer = referral.physician
        return {
            "plan_certifier_id": referral.physician_id,
            "plan_certifier_label": referrer.display_name if referrer else "",
        }
    chosen = plan_form.cleaned_data.get("certifier")
    if chosen is None:
        return {"plan_certifier_id": "", "plan_certifier_label": typed}
    return {"plan_certifier_id": chosen.pk, "plan_certifier_label": chosen.display_name}


def _render_detail(
    request: OrganizationRequest,
    referral: Referral,
    *,
    form: ReferralEditForm | None = None,
    appointment_form: AppointmentForm | None = None,
    attempt_form: ContactAttemptForm | None = None,
    plan_form: PlanOfCareForm | None = None,
) -> HttpResponse:
    """The referral's page; a form that came back with errors is shown as it was typed."""
    organization = request.organization
    here = _here(request, referral)
    origin = _origin(request, QueryDict(urlsplit(here).query))
    next_id = (
        selectors.worklist_next(organization=organization, worklist=origin.worklist, after=referral)
        if origin
        else None
    )
    rules = selectors.referral_settings_get(organization=organization)
    unanswered: int = referral.unanswered_attempts  # type: ignore[attr-defined]  # with_contact_attempts
    return render(
        request,
        "referrals/referral_detail.html",
        {
            "referral": referral,
            "panels": referral_panels(request, referral),
            "change_history": record_change_history(
                organization=organization,
                role=request.membership.role,
                record=referral,
                also=[HistorySource(PlanOfCare, {"referral_id": referral.pk}, "Plan of care")],
            ),
            "here": here,
            "origin": origin,
            "next_in_queue": f"{reverse('referrals:detail', args=[next_id])}?{origin.query}"
            if origin and next_id
            else None,
            "form": form
            or ReferralEditForm(
                instance=referral,
                organization=organization,
            ),
            "appointment_form": appointment_form
            or AppointmentForm(organization=organization, referral=referral),
            "attempt_form": attempt_form
            or ContactAttemptForm(initial={"attempted_at": _now_on_the_minute()}),
            "attempts": selectors.referral_contact_attempts(organization=organization, referral=referral),
            "unanswered_attempts": unanswered,
            "unreachable_after": rules.unreachable_after_attempts,
            "suggest_unreachable": selectors.suggests_unreachable(
                status=referral.status, unanswered_attempts=unanswered, rules=rules
            ),
            "history": selectors.referral_history(referral=referral),
            "documents": selectors.referral_documents(organization=organization, referral=referral),
            "document_form": ReferralDocumentForm(),
            "milestones": selectors.referral_milestones(referral=referral),
            "next_statuses": [Status(s) for s in Status.values if s in TRANSITIONS[referral.status]],
            "loss_reasons": LossReason.choices,
            "common_diagnoses": COMMON_DIAGNOSES,
            "diagnoses": [(code, diagnosis_lookup(code)) for code in referral.diagnosis_codes],
            "plans": selectors.referral_plans(
                organization=organization,
                referral=referral,
                today=organization_today(organization),
                rules=rules,
            ),
            "plan_form": plan_form
            or PlanOfCareForm(initial={"certifier": referral.physician_id}, organization=organization),
            **_plan_certifier(referral, plan_form, typed=request.POST.get("q", "")),
        },
    )


@records_access()
@staff_view(roles=ALL_ROLES)
def referral_detail(request: OrganizationRequest, referral_id: int) -> HttpResponse:
    referral = _referral_page(request, referral_id)
    if request.method != "POST":
        return _render_detail(request, referral)
    form = ReferralEditForm(
        request.POST,
        instance=referral,
        organization=request.organization,
    )
    if form.is_valid() and not form.needs_diagnosis_choice():
        try:
            services.referral_update(
                referral=referral,
                acting=request.membership,
                version=form.cleaned_data["version"],
                details=form.details(),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Saved.")
            return redirect(request.get_full_path())
    # The form keeps what was typed; the rest of the page shows the referral as saved.
    return _render_detail(request, _referral_page(request, referral_id), form=form)


def _first_appointment(referral: Referral) -> str:
    """ "Tue Dec 1, 2026 09:30 MST at Downtown", on the clinic's clock."""
    if referral.first_appointment_at is None or referral.first_appointment_clinic is None:
        return "none"
    when = clinic_clock(referral.first_appointment_at, referral.first_appointment_clinic)
    return f"{when} at {referral.first_appointment_clinic.name}"


def _moved_message(moved: Referral) -> str:
    message = f"Referral #{moved.number} is now {moved.get_status_display().lower()}"
    if moved.status == Status.SCHEDULED:
        message += f": first appointment {_first_appointment(moved)}"
    return message + "."


@require_POST
@records_access()
@staff_view(roles=ALL_ROLES)
def transition(request: OrganizationRequest, referral_id: int) -> HttpResponse:
    """Moves a referral one step; scheduling also books its first appointment, typed beside the button."""
    referral = _referral_page(request, referral_id)
    back = next_url(request, default="referrals:detail", referral_id=referral.pk)
    form = TransitionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the next step.")
        return redirect(back)
    to_status = form.cleaned_data["to_status"]
    appointment_form = None
    if to_status == Status.SCHEDULED:
        appointment_form = AppointmentForm(request.POST, organization=request.organization, referral=referral)
        if not appointment_form.is_valid():
            return _render_detail(request, referral, appointment_form=appointment_form)
    try:
        moved = services.referral_transition(
            referral=referral,
            user=request.user,
            to_status=to_status,
            version=form.cleaned_data["version"],
            loss_reason=form.cleaned_data["loss_reason"],
            appointment=appointment_form.appointment() if appointment_form else None,
        )
    except ValidationError as error:
        if appointment_form is None:
            messages.error(request, " ".join(error.messages))
            return redirect(back)
        appointment_form.add_error(None, error)
        current = _referral_page(request, referral_id)
        return _render_detail(request, current, appointment_form=appointment_form)
    messages.success(request, _moved_message(moved))
    return redirect(back)


@require_POST
@records_access()
@staff_view(roles=ALL_ROLES)
def reschedule(request: OrganizationRequest, referral_id: int) -> HttpResponse:
    """Moves a scheduled referral's first appointment to another time or clinic."""
    referral = _referral_page(request, referral_id)
    form = AppointmentForm(request.POST, organization=request.organization, referral=referral)
    if form.is_valid():
        try:
            moved = services.referral_reschedule(
                referral=referral,
                user=request.user,
                version=form.cleaned_data["version"],
                appointment=form.appointment(),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"First appointment moved to {_first_appointment(moved)}.")
            return redirect(next_url(request, default="referrals:detail", referral_id=referral.pk))
    return _render_detail(request, _referral_page(request, referral_id), appointment_form=form)


@require_POST
@records_access()
@staff_view(roles=ALL_ROLES)
def contact_attempt_log(request: OrganizationRequest, referral_id: int) -> HttpResponse:
    """Logs a try at reaching the patient; reaching a received referral's patient marks it contacted."""
    referral = _referral_page(request, referral_id)
    form = ContactAttemptForm(
        request.POST, instance=ContactAttempt(organization=request.organization, referral=referral)
    )
    if form.is_valid():
        try:
            attempt, current = services.contact_attempt_log(
                referral=referral, user=request.user, attempt=form.attempt()
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            moved = current.status != referral.status
            messages.success(
                request,
                f"Attempt logged: the patient was reached, so referral #{current.number} is now contacted."
                if moved
                else f"Attempt logged ({attempt.get_outcome_display().lower()}).",
            )
            return redirect(next_url(request, default="referrals:detail", referral_id=referral.pk))
    return _render_detail(request, _referral_page(request, referral_id), attempt_form=form)


@require_POST
@records_access()
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
            form.add_error(None, error)
        else:
            messages.success(request, "Plan of care saved.")
            return redirect("referrals:detail", referral_id=referral.pk)
    if plan is None and referral.is_open:
        # A new plan's dates come back as typed, with the errors beside them.
        return _render_detail(request, _referral_page(request, referral_id), plan_form=form)
    # A date typed on an existing plan's row (one field), or a referral closed meanwhile, which
    # shows no plan form: said in the message.
    messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("referrals:detail", referral_id=referral.pk)


# The statuses an unsigned plan can be in, which the plans page filters by.
UNSIGNED_PLAN_STATUSES = (PlanStatus.OVERDUE, PlanStatus.NOT_SENT, PlanStatus.AWAITING_SIGNATURE)


@records_access()
@staff_view(roles=ALL_ROLES)
def plans_awaiting_signature(request: OrganizationRequest) -> HttpResponse:
    """Unsigned plans by practice; `?status=<plan status>` and `?mine=1` (one's own patients) narrow them."""
    rules = selectors.referral_settings_get(organization=request.organization)
    status = next((s for s in UNSIGNED_PLAN_STATUSES if s.value == request.GET.get("status")), None)
    mine = request.GET.get("mine") == "1"
    groups = selectors.plans_awaiting_signature(
        organization=request.organization,
        today=organization_today(request.organization),
        rules=rules,
        therapist_id=request.user.pk if mine else None,
        status=status,
    )
    return render(
        request,
        "referrals/plans_awaiting.html",
        {
            "groups": groups,
            "plans_shown": sum(len(group.rows) for group in groups),
            "signature_days": rules.poc_signature_days,
            "status": status,
            "statuses": UNSIGNED_PLAN_STATUSES,
            "mine": mine,
            # Only those who treat patients have referrals of their own.
            "may_filter_mine": request.membership.role in CARE,
        },
    )


@require_POST
@upload_limit("REFERRAL_DOCUMENT_MAX_MB")
@records_access()
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


@records_access(kind=AccessKind.DOWNLOAD, object_kwarg="document_id", object_type="document")
@staff_view(roles=ALL_ROLES)
def document(request: OrganizationRequest, referral_id: int, document_id: int) -> FileResponse:
    stored = get_for_organization_or_404(
        ReferralDocument.objects.select_related("referral"),
        request.organization,
        pk=document_id,
        referral_id=referral_id,
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
            referral_number=stored.referral.number, document_id=stored.pk, content_type=stored.content_type
        ),
        content_type=document_type(stored.content_type).content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@records_access()
@staff_view(roles=ALL_ROLES)
def referral_board(request: OrganizationRequest) -> HttpResponse:
    return render(
        request, "referrals/board.html", {"columns": selectors.board(organization=request.organization)}
    )
