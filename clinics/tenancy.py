"""How every request is tied to one organization, and how views declare who may use them.

1. `OrganizationMiddleware` resolves the request's organization from the
   signed-in user's active memberships (the one chosen in the session, else the
   first) and sets `request.organization` and `request.membership`. A user with
   no active membership left is signed out: that is how deactivation ends
   their sessions.
2. Views are wrapped in `@staff_view(roles=...)`, which requires a signed-in
   member with one of those roles (403 otherwise) and records the roles on the
   view, where the test suite reads them.
3. Objects are fetched with `get_for_organization_or_404`, so another
   organization's id answers 404, exactly like an id that does not exist.
"""

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, Protocol, cast

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_htmx.middleware import HtmxDetails

from accounts.models import User

from .clock import person_zone
from .models import Membership, Organization
from .roles import ALL_ROLES

SESSION_ORGANIZATION_KEY = "rapport_organization_id"


class MemberRequest(HttpRequest):
    """A request as `OrganizationMiddleware` leaves it: a member's, or anyone's (then None and [])."""

    organization: Organization | None
    membership: Membership | None
    memberships: list[Membership]
    htmx: HtmxDetails


class OrganizationRequest(MemberRequest):
    """A request that `@staff_view` let through: its organization and membership are known.

    Views and the panels they render take this type, so `request.organization`
    and `request.membership` are checked like any other attribute.
    """

    user: User
    organization: Organization
    membership: Membership


class StaffView(Protocol):
    """A view wrapped by `@staff_view`; the test suite reads the roles it declared."""

    allowed_roles: frozenset[str]

    def __call__(self, request: HttpRequest, /, *args: Any, **kwargs: Any) -> HttpResponseBase: ...


class OrganizationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: MemberRequest) -> HttpResponse:
        request.organization = None
        request.membership = None
        request.memberships = []
        if request.user.is_authenticated:
            memberships = list(
                Membership.objects.filter(user=request.user, is_active=True)
                # Security settings: whether a second factor is required (clinics/two_factor.py).
                .select_related("organization__security_settings", "home_clinic")
                .order_by("organization__name")
            )
            if memberships:
                chosen_id = request.session.get(SESSION_ORGANIZATION_KEY)
                membership = next((m for m in memberships if m.organization_id == chosen_id), memberships[0])
                request.memberships = memberships
                request.membership = membership
                request.organization = membership.organization
                # Dates and times show in the person's zone (clinics/clock.py).
                timezone.activate(person_zone(membership))
            elif not request.user.is_superuser:
                logout(request)
                messages.warning(
                    request, "Your access to Rapport has ended. Ask your clinic's admin if this is a mistake."
                )
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def staff_view(*, roles: Iterable[str]) -> Callable[[Callable[..., HttpResponseBase]], StaffView]:
    """Restricts a view to signed-in members of the request's organization with one of `roles`.

    The view receives the request as an `OrganizationRequest`.
    """
    allowed = frozenset(roles)
    unknown = allowed - ALL_ROLES
    if unknown:
        raise ValueError(f"Unknown roles: {sorted(unknown)}")

    def decorator(view: Callable[..., HttpResponseBase]) -> StaffView:
        @wraps(view)
        def wrapper(request: MemberRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if request.membership is None:
                raise PermissionDenied("You are not a member of any organization.")
            if request.membership.role not in allowed:
                raise PermissionDenied("Your role does not give access to this page.")
            return view(request, *args, **kwargs)

        staff = cast(StaffView, wrapper)
        staff.allowed_roles = allowed
        return staff

    return decorator


def get_for_organization_or_404[ModelT: models.Model](
    queryset: type[ModelT] | models.QuerySet[ModelT], organization: Organization, **lookup: Any
) -> ModelT:
    """Fetches one object of `organization`; any other organization's object is a 404."""
    if isinstance(queryset, type):
        queryset = queryset._default_manager.all()
    return get_object_or_404(queryset, organization=organization, **lookup)


def organization_switch(request: HttpRequest, organization_id: int) -> Membership:
    """Makes another of the user's organizations the current one; 404 if not a member."""
    membership = get_object_or_404(
        Membership, user=request.user, organization_id=organization_id, is_active=True
    )
    request.session[SESSION_ORGANIZATION_KEY] = membership.organization_id
    return membership
