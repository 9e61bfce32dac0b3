from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from . import selectors, services
from .forms import (
    ClinicForm,
    MembershipForm,
    PayerForm,
    ServiceOfferingForm,
    StaffCreateForm,
)
from .history import HistorySource, change_history, is_tracked, record_change_history
from .home_cards import HomeContext, home_page_cards
from .models import Clinic, Membership, Payer, ServiceOffering
from .roles import ADMINS, ALL_ROLES
from .service_links import offered_service_links, service_follow_up, services_page_links
from .settings_sections import settings_forms
from .tenancy import OrganizationRequest, get_for_organization_or_404, organization_switch, staff_view
from .two_factor_views import member_second_factor


@staff_view(roles=ALL_ROLES)
def home(request: OrganizationRequest) -> HttpResponse:
    """What needs the person now: the cards the apps registered for their role (clinics/home_cards.py)."""
    context = HomeContext(
        organization=request.organization,
        membership=request.membership,
        user=request.user,
        now=timezone.now(),
    )
    return render(
        request, "clinics/home.html", {"cards": home_page_cards(context), "today": context.person_today}
    )


@require_POST
@staff_view(roles=ALL_ROLES)
def switch_organization(request: OrganizationRequest, organization_id: int) -> HttpResponse:
    membership = organization_switch(request, organization_id)
    messages.success(request, f"You are now working in {membership.organization}.")
    return redirect("home")


@staff_view(roles=ALL_ROLES)
def clinic_list(request: OrganizationRequest) -> HttpResponse:
    clinics = selectors.clinic_list(organization=request.organization)
    return render(request, "clinics/clinic_list.html", {"clinics": clinics})


def _clinic_form_page(request: OrganizationRequest, clinic: Clinic | None) -> HttpResponse:
    form = ClinicForm(
        request.POST or None,
        instance=clinic or Clinic(organization=request.organization),
        organization=request.organization,
    )
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.clinic_save(
                organization=request.organization,
                clinic=clinic,
                fields=services.ClinicFields.from_cleaned_data(form.cleaned_data),
                payers=form.cleaned_data["payers"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Saved {saved.name}.")
            return redirect("clinics:list")
    context = {"form": form, "clinic": clinic, "cancel_url": reverse("clinics:list")}
    return render(request, "clinics/clinic_form.html", context)


@staff_view(roles=ADMINS)
def clinic_create(request: OrganizationRequest) -> HttpResponse:
    return _clinic_form_page(request, clinic=None)


@staff_view(roles=ADMINS)
def clinic_edit(request: OrganizationRequest, clinic_id: int) -> HttpResponse:
    clinic = get_for_organization_or_404(Clinic, request.organization, pk=clinic_id)
    return _clinic_form_page(request, clinic=clinic)


@staff_view(roles=ADMINS)
def staff_list(request: OrganizationRequest) -> HttpResponse:
    memberships = selectors.membership_list(organization=request.organization)
    return render(request, "clinics/staff_list.html", {"memberships": memberships})


@staff_view(roles=ADMINS)
def staff_create(request: OrganizationRequest) -> HttpResponse:
    form = StaffCreateForm(request.POST or None, organization=request.organization)
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.staff_create(organization=request.organization, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                f"Added {membership.user} as {membership.get_role_display()}; "
                f"they sign in as {membership.user.username}.",
            )
            return redirect("clinics:staff_list")
    context = {"form": form, "cancel_url": reverse("clinics:staff_list")}
    return render(request, "clinics/staff_form.html", context)


@staff_view(roles=ADMINS)
def staff_edit(request: OrganizationRequest, membership_id: int) -> HttpResponse:
    membership = get_for_organization_or_404(
        Membership.objects.select_related("user"), request.organization, pk=membership_id
    )
    form = MembershipForm(request.POST or None, instance=membership)
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_update(membership=membership, acting_user=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Saved {membership.user}.")
            return redirect("clinics:staff_list")
    return render(
        request,
        "clinics/staff_edit.html",
        {
            "form": form,
            "membership": membership,
            "cancel_url": reverse("clinics:staff_list"),
            "change_history": record_change_history(
                organization=request.organization, role=request.membership.role, record=membership
            ),
            "second_factor": member_second_factor(membership=membership),
        },
    )


@require_http_methods(["GET", "POST"])
@staff_view(roles=ADMINS)
def staff_deactivate(request: OrganizationRequest, membership_id: int) -> HttpResponse:
    """Asks first: a stray tap beside Edit, on a phone, would end a colleague's sessions mid-shift."""
    membership = get_for_organization_or_404(
        Membership.objects.select_related("user"), request.organization, pk=membership_id
    )
    if request.method != "POST":
        if not membership.is_active:
            messages.info(request, f"{membership.user} is already deactivated.")
            return redirect("clinics:staff_list")
        return render(
            request,
            "clinics/staff_deactivate.html",
            {
                "membership": membership,
                "title": f"Deactivate {membership.user}?",
                "back_url": "clinics:staff_list",
                "back_label": "Staff",
            },
        )
    try:
        services.membership_deactivate(membership=membership, acting_user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Deactivated {membership.user}; their sessions have ended.")
    return redirect("clinics:staff_list")


@require_POST
@staff_view(roles=ADMINS)
def staff_reactivate(request: OrganizationRequest, membership_id: int) -> HttpResponse:
    membership = get_for_organization_or_404(
        Membership.objects.select_related("user"), request.organization, pk=membership_id
    )
    services.membership_reactivate(membership=membership)
    messages.success(request, f"Reactivated {membership.user}.")
    return redirect("clinics:staff_list")


@staff_view(roles=ADMINS)
def payer_list(request: OrganizationRequest) -> HttpResponse:
    payers = selectors.payer_list(organization=request.organization)
    return render(request, "clinics/payer_list.html", {"payers": payers})


def _organization_list_form_page(
    request: OrganizationRequest,
    form: forms.ModelForm,
    save: Callable[[dict[str, Any]], Any],
    *,
    title: str,
    list_url: str,
    list_label: str,
    saved_redirect: Callable[[OrganizationRequest, Any], HttpResponse] | None = None,
) -> HttpResponse:
    """Shows `form`; when valid, saves it through `save(cleaned_data)` and returns to the list,
    or to wherever `saved_redirect(request, saved)` sends the user next."""
    if request.method == "POST" and form.is_valid():
        try:
            saved = save(form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if saved_redirect is not None:
                return saved_redirect(request, saved)
            messages.success(request, f"Saved {saved.name}.")
            return redirect(list_url)
    context = {"form": form, "title": title, "back_url": list_url, "back_label": list_label}
    return render(request, "clinics/simple_form.html", context)


def _payer_form_page(request: OrganizationRequest, payer: Payer | None) -> HttpResponse:
    return _organization_list_form_page(
        request,
        PayerForm(request.POST or None, instance=payer or Payer(organization=request.organization)),
        lambda data: services.payer_save(
            organization=request.organization,
            payer=payer,
            fields=services.PayerFields.from_cleaned_data(data),
        ),
        title=payer.name if payer else "Add a payer",
        list_url="clinics:payer_list",
        list_label="Payers",
    )


@staff_view(roles=ADMINS)
def payer_create(request: OrganizationRequest) -> HttpResponse:
    return _payer_form_page(request, payer=None)


@staff_view(roles=ADMINS)
def payer_edit(request: OrganizationRequest, payer_id: int) -> HttpResponse:
    payer = get_for_organization_or_404(Payer, request.organization, pk=payer_id)
    return _payer_form_page(request, payer=payer)


@staff_view(roles=ALL_ROLES)
def service_list(request: OrganizationRequest) -> HttpResponse:
    role = request.membership.role
    offerings = selectors.service_offering_list(organization=request.organization)
    rows = [(offering, offered_service_links(role=role, offering=offering)) for offering in offerings]
    context = {"rows": rows, "page_links": services_page_links(role=role)}
    return render(request, "clinics/service_list.html", context)


def _service_saved(request: OrganizationRequest, offering: ServiceOffering) -> HttpResponse:
    """Back to the list, unless another app offers a next step for a service on offer (an announcement)."""
    follow_up = service_follow_up(role=request.membership.role, offering=offering)
    if follow_up is None:
        messages.success(request, f"Saved {offering.name}.")
        return redirect("clinics:service_list")
    message, url = follow_up
    messages.success(request, message)
    return redirect(url)


def _service_form_page(request: OrganizationRequest, offering: ServiceOffering | None) -> HttpResponse:
    return _organization_list_form_page(
        request,
        ServiceOfferingForm(
            request.POST or None,
            instance=offering or ServiceOffering(organization=request.organization),
            organization=request.organization,
        ),
        lambda data: services.service_offering_save(
            organization=request.organization,
            offering=offering,
            fields=services.ServiceOfferingFields.from_cleaned_data(data),
            populations=data["populations"],
        ),
        title=offering.name if offering else "Add a service",
        list_url="clinics:service_list",
        list_label="Services",
        saved_redirect=_service_saved,
    )


@staff_view(roles=ADMINS)
def service_create(request: OrganizationRequest) -> HttpResponse:
    return _service_form_page(request, offering=None)


@staff_view(roles=ADMINS)
def service_edit(request: OrganizationRequest, offering_id: int) -> HttpResponse:
    offering = get_for_organization_or_404(ServiceOffering, request.organization, pk=offering_id)
    return _service_form_page(request, offering=offering)


@staff_view(roles=ADMINS)
def organization_settings(request: OrganizationRequest) -> HttpResponse:
    """Every app's settings section on one page, saved together or not at all."""
    sections = settings_forms(
        organization=request.organization, role=request.membership.role, data=request.POST or None
    )
    if request.method == "POST" and all([form.is_valid() for _, form in sections]):
        # Only the sections changed: the trail, the history and the after-save jobs speak of what changed.
        changes = [(section, form.cleaned_data) for section, form in sections if form.has_changed()]
        if not changes:
            messages.info(request, "Nothing was changed, so nothing was saved.")
            return redirect("clinics:organization_settings")
        try:
            services.organization_settings_save(organization=request.organization, changes=changes)
        except services.SettingsSectionRefused as refused:
            forms_by_key = {section.key: form for section, form in sections}
            forms_by_key[refused.key].add_error(None, refused.error)
        else:
            messages.success(request, "Settings saved.")
            return redirect("clinics:organization_settings")
    history = change_history(
        organization=request.organization,
        sources=[
            HistorySource(type(form.instance), {"organization_id": request.organization.pk}, section.title)
            for section, form in sections
            if is_tracked(type(form.instance))
        ],
    )
    return render(
        request, "clinics/organization_settings.html", {"sections": sections, "change_history": history}
    )
