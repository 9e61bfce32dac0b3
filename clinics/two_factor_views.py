"""The pages of two-factor sign-in: the code after the password, enrolment, and an admin's reset."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from config.text import SingleLineField

from .links import next_url
from .models import Membership, SecondFactorReset
from .roles import ADMINS, ALL_ROLES
from .tenancy import OrganizationRequest, get_for_organization_or_404, staff_view
from .two_factor import (
    GIVEN,
    OWED,
    SESSION_KEY,
    LockedOut,
    WrongCode,
    enrolment_confirm,
    enrolment_start,
    has_second_factor,
    lockout_response,
    recovery_codes_left,
    recovery_codes_renew,
    second_factor_reset,
    second_factor_verify,
    two_factor_required,
)


class CodeForm(forms.Form):
    code = SingleLineField(
        label="Code",
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True, "size": 12}
        ),
    )


@staff_view(roles=ALL_ROLES)
def two_factor_verify(request: OrganizationRequest) -> HttpResponse:
    """The second step of signing in: the authenticator's code, or a recovery code."""
    done = next_url(request, default="home")
    if request.session.get(SESSION_KEY) != OWED:
        return redirect(done)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            code = form.cleaned_data["code"]
            accepted = second_factor_verify(request=request, user=request.user, code=code)
        except LockedOut:
            return lockout_response(request)
        if accepted:
            return redirect(done)
        form.add_error("code", "That code is not right. Use the code your app shows now, or a recovery code.")
    return render(request, "clinics/two_factor_verify.html", {"form": form, "next": done})


def _codes_page(request: OrganizationRequest, codes: list[str]) -> HttpResponse:
    # Shown in this answer only: never stored in the session, never shown again.
    return render(
        request, "clinics/two_factor_codes.html", {"codes": codes, "next": next_url(request, default="home")}
    )


@staff_view(roles=ALL_ROLES)
def two_factor_enrol(request: OrganizationRequest) -> HttpResponse:
    """Sets up an authenticator app (or a new one), and renews recovery codes."""
    if request.session.get(SESSION_KEY) == OWED:
        # Replacing the second factor takes the current one first.
        return redirect("clinics:two_factor_verify")
    user = request.user
    form = CodeForm(request.POST or None)
    if request.method == "POST" and request.POST.get("action") == "renew":
        return _codes_page(request, recovery_codes_renew(user=user))
    if request.method == "POST" and form.is_valid():
        try:
            codes = enrolment_confirm(user=user, code=form.cleaned_data["code"])
        except WrongCode as error:
            form.add_error("code", str(error))
        else:
            request.session[SESSION_KEY] = GIVEN
            return _codes_page(request, codes)
    enrolled = has_second_factor(user)
    return render(
        request,
        "clinics/two_factor_enrol.html",
        {
            "form": form,
            "enrolment": enrolment_start(user=user),
            "enrolled": enrolled,
            "codes_left": recovery_codes_left(user=user) if enrolled else 0,
            "required": two_factor_required(memberships=request.memberships),
            "next": next_url(request, default="home"),
        },
    )


@require_POST
@staff_view(roles=ADMINS)
def staff_two_factor_reset(request: OrganizationRequest, membership_id: int) -> HttpResponse:
    """Clears a member's lost authenticator; they set up a new one at their next sign-in."""
    membership = get_for_organization_or_404(
        Membership.objects.select_related("user"), request.organization, pk=membership_id
    )
    try:
        second_factor_reset(membership=membership, acting=request.membership)
    except PermissionDenied as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(
            request, f"Reset {membership.user}'s second factor: they set up a new one at their next sign-in."
        )
    return redirect("clinics:staff_edit", membership_id=membership.pk)


def member_second_factor(*, membership: Membership) -> dict[str, object]:
    """What the staff page says of a member's second factor: on or off, and its last reset."""
    return {
        "enrolled": has_second_factor(membership.user),
        "last_reset": SecondFactorReset.objects.filter(
            organization_id=membership.organization_id, user_id=membership.user_id
        )
        .select_related("reset_by")
        .first(),
    }
