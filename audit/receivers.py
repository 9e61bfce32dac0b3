"""Security events: sign-ins, failed sign-ins, lockouts, role changes and settings changes.

Accounts and clinics sit below the trail and must not import it: sign-ins
come through Django's and django-axes's signals, role and settings changes
through the hooks clinics offers (`register_membership_changed`,
`register_settings_saved`), which run inside the change's transaction, so
the change and its record commit together.
"""

from typing import Any

from axes.helpers import get_client_ip_address
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from accounts.models import User
from clinics.models import Membership, Organization, OrganizationExport
from clinics.services import register_data_export_event, register_membership_changed, register_settings_saved

from .middleware import current_request
from .models import AccessKind
from .services import Access, access_record


def _organization_ids(user: User) -> list[int]:
    return list(
        Membership.objects.filter(user=user, is_active=True).values_list("organization_id", flat=True)
    )


def _ip(request: HttpRequest | None) -> str | None:
    return get_client_ip_address(request) if request is not None else None


def _user_named(username: str) -> User | None:
    return User.objects.filter(username__iexact=username).first() if username else None


def _record_for_user(user: User, *, kind: AccessKind, request: HttpRequest | None, detail: str = "") -> None:
    """One event in each organization the person belongs to: each admin sees their own people's sign-ins."""
    for organization_id in _organization_ids(user):
        access_record(
            organization=organization_id,
            access=Access(kind=kind, user=user, ip_address=_ip(request), path_name="login", detail=detail),
        )


@receiver(user_logged_in, dispatch_uid="audit.sign_in")
def record_sign_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    _record_for_user(user, kind=AccessKind.SIGN_IN, request=request)


@receiver(user_login_failed, dispatch_uid="audit.sign_in_failed")
def record_failed_sign_in(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """A wrong password for a known username; an unknown one belongs to no organization (axes logs it)."""
    user = _user_named(credentials.get("username") or "")
    if user is not None:
        _record_for_user(user, kind=AccessKind.SIGN_IN_FAILED, request=request)


@receiver(user_locked_out, dispatch_uid="audit.lockout")
def record_lockout(
    sender: Any, request: HttpRequest | None, username: str, ip_address: str, **kwargs: Any
) -> None:
    user = _user_named(username)
    if user is not None:
        _record_for_user(user, kind=AccessKind.LOCKOUT, request=request)


def _actor(request: HttpRequest | None) -> User | None:
    user = getattr(request, "user", None)
    return user if isinstance(user, User) and user.is_authenticated else None


@register_membership_changed
def record_membership_change(membership: Membership) -> None:
    request = current_request()
    access_record(
        organization=membership.organization_id,
        access=Access(
            kind=AccessKind.ROLE_CHANGE,
            user=_actor(request),
            ip_address=_ip(request),
            path_name=request.resolver_match.view_name if request and request.resolver_match else "",
            object_type="membership",
            object_id=membership.pk,
            detail=f"{membership.get_role_display()}, {'active' if membership.is_active else 'deactivated'}",
        ),
    )


@register_settings_saved
def record_settings_change(*, organization: Organization, keys: list[str]) -> None:
    request = current_request()
    access_record(
        organization=organization,
        access=Access(
            kind=AccessKind.SETTINGS_CHANGE,
            user=_actor(request),
            ip_address=_ip(request),
            path_name=request.resolver_match.view_name if request and request.resolver_match else "",
            detail=f"sections saved: {', '.join(keys)}"[:200],
        ),
    )


@register_data_export_event
def record_data_export(*, export: OrganizationExport, user: User, action: str) -> None:
    """The whole organization's data asked for, or downloaded: an export event naming the file's row."""
    request = current_request()
    access_record(
        organization=export.organization_id,
        access=Access(
            kind=AccessKind.EXPORT,
            user=user,
            ip_address=_ip(request),
            path_name=request.resolver_match.view_name if request and request.resolver_match else "",
            object_type="organization_export",
            object_id=export.pk,
            detail=f"organization data export {action}",
        ),
    )
