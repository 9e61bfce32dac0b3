"""Pages to add, correct and remove a referral's visits and payments by hand."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from audit.recording import records_access
from clinics.tenancy import OrganizationRequest, get_for_organization_or_404, staff_view
from referrals.models import Referral

from . import services
from .forms import PaymentForm, VisitForm
from .models import Payment, PaymentKind, Visit
from .roles import EDITORS


def _form_page(
    request: OrganizationRequest, *, form, referral: Referral, title: str, row=None
) -> HttpResponse:
    return render(
        request,
        "billing/row_form.html",
        {
            "form": form,
            "title": title,
            "referral": referral,
            "row": row,
            "cancel_url": reverse("referrals:detail", args=[referral.pk]),
        },
    )


def _visit_page(request: OrganizationRequest, referral: Referral, visit: Visit | None) -> HttpResponse:
    form = VisitForm(
        request.POST or None,
        instance=visit or Visit(organization=request.organization, referral=referral),
        organization=request.organization,
        initial={}
        if visit
        else {"clinic": referral.clinic_id, "therapist": referral.therapist_id, "payer": referral.payer_id},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.visit_save(
                acting=request.membership, referral=referral, visit=visit, fields=form.visit_fields()
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Visit saved; the referral's totals are up to date.")
            return redirect("referrals:detail", referral_id=referral.pk)
    return _form_page(
        request, form=form, referral=referral, title="Correct a visit" if visit else "Add a visit", row=visit
    )


def _payment_page(request: OrganizationRequest, referral: Referral, payment: Payment | None) -> HttpResponse:
    form = PaymentForm(
        request.POST or None,
        instance=payment or Payment(organization=request.organization, referral=referral),
        organization=request.organization,
        initial={} if payment else {"payer": referral.payer_id, "kind": PaymentKind.PAYER},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.payment_save(
                acting=request.membership, referral=referral, payment=payment, fields=form.payment_fields()
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Payment saved; the referral's totals are up to date.")
            return redirect("referrals:detail", referral_id=referral.pk)
    return _form_page(
        request,
        form=form,
        referral=referral,
        title="Correct a payment" if payment else "Add a payment",
        row=payment,
    )


@records_access()
@staff_view(roles=EDITORS)
def visit_create(request: OrganizationRequest, referral_id: int) -> HttpResponse:
    referral = get_for_organization_or_404(Referral, request.organization, pk=referral_id)
    return _visit_page(request, referral, None)


@records_access()
@staff_view(roles=EDITORS)
def visit_edit(request: OrganizationRequest, visit_id: int) -> HttpResponse:
    visit = get_for_organization_or_404(
        Visit.objects.select_related("referral"), request.organization, pk=visit_id
    )
    return _visit_page(request, visit.referral, visit)


@records_access()
@staff_view(roles=EDITORS)
def payment_create(request: OrganizationRequest, referral_id: int) -> HttpResponse:
    referral = get_for_organization_or_404(Referral, request.organization, pk=referral_id)
    return _payment_page(request, referral, None)


@records_access()
@staff_view(roles=EDITORS)
def payment_edit(request: OrganizationRequest, payment_id: int) -> HttpResponse:
    payment = get_for_organization_or_404(
        Payment.objects.select_related("referral"), request.organization, pk=payment_id
    )
    return _payment_page(request, payment.referral, payment)


def _remove(request: OrganizationRequest, row: Visit | Payment, label: str) -> HttpResponse:
    services.billing_row_remove(acting=request.membership, row=row)
    messages.success(request, f"{label} removed; the referral's totals are up to date.")
    return redirect("referrals:detail", referral_id=row.referral_id)


@require_POST
@records_access()
@staff_view(roles=EDITORS)
def visit_remove(request: OrganizationRequest, visit_id: int) -> HttpResponse:
    visit = get_for_organization_or_404(
        Visit.objects.select_related("referral"), request.organization, pk=visit_id
    )
    return _remove(request, visit, "Visit")


@require_POST
@records_access()
@staff_view(roles=EDITORS)
def payment_remove(request: OrganizationRequest, payment_id: int) -> HttpResponse:
    payment = get_for_organization_or_404(
        Payment.objects.select_related("referral"), request.organization, pk=payment_id
    )
    return _remove(request, payment, "Payment")
