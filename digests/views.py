"""The digest's pages: the person's digest as a page, their preferences, a test send, and who receives what.

The email's links name the organization, because a person in two
organizations gets a digest from each: opening one makes that organization
the current one, as switching in the menu would, so the page and its menus
agree with the email. The switch comes before the role is checked: a
therapist at one group who is the front desk at another opens their digest
whichever organization they were working in.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from audit.recording import records_access, shows_no_patient_data
from clinics.models import Membership
from clinics.roles import ADMINS
from clinics.tenancy import OrganizationRequest, organization_switch, staff_view

from . import selectors, services
from .content import DIGEST_ROLES
from .forms import DigestPreferenceForm
from .schedule import WEEKDAYS, week_monday


def _switch_to_digest_organization(request: OrganizationRequest, organization_id: int) -> None:
    """Makes the organization of the link current; a 404 unless the person has a digest there."""
    get_object_or_404(
        Membership, user=request.user, organization_id=organization_id, is_active=True, role__in=DIGEST_ROLES
    )
    organization_switch(request, organization_id)


def _opened_in_its_organization(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """A link naming another of the person's organizations switches to it, then opens again there.

    Outside the role check, so the role that decides is the one in the organization the link names.
    """

    @wraps(view)
    def wrapper(
        request: OrganizationRequest, organization_id: int, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        current = getattr(request, "organization", None)
        if request.user.is_authenticated and current is not None and current.pk != organization_id:
            _switch_to_digest_organization(request, organization_id)
            return redirect(request.get_full_path())
        return view(request, organization_id, *args, **kwargs)

    return wrapper


def _membership_in(request: OrganizationRequest, organization_id: int) -> Membership | None:
    """The person's membership there if it is the current organization; None once switched to it."""
    if organization_id == request.organization.pk:
        return request.membership
    _switch_to_digest_organization(request, organization_id)
    return None


@shows_no_patient_data("sends the person to their own digest's page")
@staff_view(roles=DIGEST_ROLES)
def mine(request: OrganizationRequest) -> HttpResponse:
    return redirect("digests:view", organization_id=request.organization.pk)


@_opened_in_its_organization
@records_access()
@staff_view(roles=DIGEST_ROLES)
def digest_view(request: OrganizationRequest, organization_id: int) -> HttpResponseBase:
    """The digest as it stands now, as the email shows it (the "view in browser" link)."""
    membership = request.membership
    preference = services.digest_preference_for(membership=membership)
    digest = selectors.digest_preview(membership=membership, sections_off=set(preference.sections_off))
    others = [m for m in request.memberships if m.pk != membership.pk and m.role in DIGEST_ROLES]
    # The email's link names its week: say so when the page, which shows the digest now, is of another.
    emailed_week = request.GET.get("week", "")
    try:
        emailed_monday = week_monday(emailed_week) if emailed_week != digest.week else None
    except ValueError:
        emailed_monday = None
    return render(
        request,
        "digests/digest_page.html",
        {
            "digest": digest,
            "preference": preference,
            "weekday": WEEKDAYS[preference.weekday],
            "others": others,
            "can_send": membership.role in ADMINS,
            "emailed_monday": emailed_monday,
        },
    )


@_opened_in_its_organization
@shows_no_patient_data("the person's day, hour and sections")
@staff_view(roles=DIGEST_ROLES)
def preferences(request: OrganizationRequest, organization_id: int) -> HttpResponseBase:
    membership = request.membership
    preference = services.digest_preference_for(membership=membership)
    form = DigestPreferenceForm(request.POST or None, instance=preference, role=membership.role)
    if request.method == "POST" and form.is_valid():
        try:
            services.digest_preference_update(
                membership=membership,
                enabled=form.cleaned_data["enabled"],
                weekday=form.cleaned_data["weekday"],
                hour=form.cleaned_data["hour"],
                sections_off=form.sections_off(),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Your weekly digest preferences are saved.")
            return redirect("digests:preferences", organization_id=organization_id)
    return render(
        request,
        "digests/preferences.html",
        {"form": form, "preference": preference, "organization": request.organization},
    )


@shows_no_patient_data("queues the admin's own digest; the email is recorded when opened in the browser")
@require_POST
@staff_view(roles=ADMINS)
def send_test(request: OrganizationRequest, organization_id: int) -> HttpResponseBase:
    """Queues the admin's own digest now, to see it arrive: once a week, apart from the scheduled one."""
    membership = _membership_in(request, organization_id)
    if membership is None or membership.role not in ADMINS:
        return redirect("digests:view", organization_id=organization_id)
    try:
        email, queued = services.digest_send_test(membership=membership)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        if queued:
            messages.success(
                request, f"Your digest is queued for {email.to_address}; it arrives within a minute."
            )
        else:
            messages.info(request, "This week's test digest was already queued: see it in the email log.")
    return redirect(reverse("digests:view", kwargs={"organization_id": organization_id}))


@shows_no_patient_data("who receives a digest, when and which sections")
@staff_view(roles=ADMINS)
def recipients(request: OrganizationRequest) -> HttpResponse:
    """Who receives what, and when: every therapist, liaison and admin of the organization."""
    rows = selectors.digest_recipients(organization=request.organization)
    return render(request, "digests/recipients.html", {"rows": rows})
