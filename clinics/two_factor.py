"""Two-factor sign-in: an authenticator app (TOTP) with single-use recovery codes, from django-otp.

1. Who: anyone who has enrolled an authenticator, every admin, and everyone
   of an organization whose security settings require it
   (`SecuritySettings.require_two_factor`). `TWO_FACTOR_DEMO_EXEMPT` (local
   settings only; `check --deploy` refuses it) lifts the requirement, never
   the code of someone who enrolled.
2. When: the password is checked by Django's sign-in page as before; the
   session then records whether a code is still owed (`user_logged_in`).
   `TwoFactorMiddleware` sends such a session to the code page, and a
   required person without an authenticator to enrolment, before any other
   page. It reads only the session and the memberships the request already
   loaded: no query per request.
3. Guessing: each wrong code counts as a failed sign-in in django-axes, so
   the same lockout as for passwords (AXES_FAILURE_LIMIT failures per
   username and address) signs the session out and pauses sign-in; the
   authenticator device adds its own growing delay between failures.
4. Recovery codes: ten, shown once when enrolling (or renewing them), each
   accepted once (django-otp deletes a static token when it is used).
5. A lost phone: another admin of the same organization resets the member's
   second factor (`second_factor_reset`); a SecondFactorReset row records
   who did it, and the member enrols again at their next sign-in.
"""

from base64 import b32encode
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO

import qrcode
import qrcode.image.svg
from axes.handlers.proxy import AxesProxyHandler
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core import checks
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User

from .models import Membership, Organization, Role, SecondFactorReset, SecuritySettings
from .tenancy import MemberRequest

SESSION_KEY = "rapport_two_factor"
# The session's states: a code is owed (the person has an authenticator), or given.
OWED, GIVEN = "owed", "given"
RECOVERY_CODES = 10
DEVICE_NAME = "Authenticator app"
# Pages a session that owes a code may still open: the code page, enrolment, signing out.
OPEN_PAGES = frozenset({"clinics:two_factor_verify", "clinics:two_factor_enrol", "logout", "login"})


def security_settings_get(*, organization: Organization) -> SecuritySettings:
    """The organization's sign-in rules, made with the defaults the first time they are asked for."""
    rules, _ = SecuritySettings.objects.get_or_create(organization=organization)
    return rules


def security_settings_update(*, organization: Organization, require_two_factor: bool) -> SecuritySettings:
    rules = security_settings_get(organization=organization)
    rules.require_two_factor = require_two_factor
    rules.save(update_fields=["require_two_factor"])
    return rules


def _requires(membership: Membership) -> bool:
    if membership.role == Role.ADMIN:
        return True
    try:
        return membership.organization.security_settings.require_two_factor
    except SecuritySettings.DoesNotExist:
        return False


def two_factor_required(*, memberships: list[Membership]) -> bool:
    """Whether a person with these active memberships must sign in with a second factor.

    An admin anywhere is asked everywhere: one sign-in opens all of a person's
    organizations. Memberships come with `organization__security_settings`
    loaded (OrganizationMiddleware), so this asks the database nothing.
    """
    if settings.TWO_FACTOR_DEMO_EXEMPT:
        return False
    return any(_requires(membership) for membership in memberships)


def authenticator(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def has_second_factor(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def _on_sign_in(sender: object, request: HttpRequest, user: User, **kwargs: object) -> None:
    """After the password: a person with an authenticator owes a code before anything else."""
    if has_second_factor(user):
        request.session[SESSION_KEY] = OWED
    else:
        request.session.pop(SESSION_KEY, None)


user_logged_in.connect(_on_sign_in, dispatch_uid="clinics.two_factor.sign_in")


class TwoFactorMiddleware:
    """Sends a session that owes a code to the code page, and a required person without one to enrolment."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: MemberRequest, view_func: object, view_args: object, view_kwargs: object
    ) -> HttpResponseBase | None:
        if not request.user.is_authenticated or request.session.get(SESSION_KEY) == GIVEN:
            return None
        match = request.resolver_match
        # The Django admin is no way around it: a superuser who enrolled gives the code too.
        if match is None or match.view_name in OPEN_PAGES:
            return None
        if request.session.get(SESSION_KEY) == OWED:
            target = "clinics:two_factor_verify"
        elif two_factor_required(memberships=request.memberships):
            target = "clinics:two_factor_enrol"
        else:
            return None
        if request.headers.get("HX-Request"):
            # An in-page update cannot show the code page: reload the page, which then goes there.
            return HttpResponse(status=204, headers={"HX-Refresh": "true"})
        return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")


@dataclass(frozen=True)
class Enrolment:
    device: TOTPDevice
    qr_svg: str
    secret: str


def _qr_svg(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


def enrolment_start(*, user: User) -> Enrolment:
    """The authenticator being set up: the one begun before (a reload shows the same code), else a new one."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return Enrolment(device=device, qr_svg=_qr_svg(device.config_url), secret=secret)


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


class WrongCode(Exception):
    pass


@transaction.atomic
def enrolment_confirm(*, user: User, code: str) -> list[str]:
    """Turns on the authenticator being set up if `code` is its current one; returns the new recovery codes.

    A previous authenticator is replaced, and its recovery codes with it.
    """
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None or not device.verify_token(_digits(code)):
        raise WrongCode("That code is not the one your app shows now. Check the app's clock, and try again.")
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return _new_recovery_codes(user)


def recovery_codes_renew(*, user: User) -> list[str]:
    """New recovery codes for a person with an authenticator; the old ones stop working."""
    if not has_second_factor(user):
        raise PermissionDenied("Set up an authenticator app first.")
    with transaction.atomic():
        return _new_recovery_codes(user)


def recovery_codes_left(*, user: User) -> int:
    return StaticToken.objects.filter(device__user=user).count()


def _digits(code: str) -> str:
    return "".join(code.split())


class LockedOut(Exception):
    pass


def second_factor_verify(*, request: HttpRequest, user: User, code: str) -> bool:
    """Accepts the authenticator's code or an unused recovery code; a wrong one counts toward the lockout.

    Raises LockedOut once the sign-in lockout applies (before or because of
    this guess); the caller signs the session out.
    """
    credentials = {"username": user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials):
        raise LockedOut
    token = _digits(code)
    with transaction.atomic():
        devices = [
            *TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True),
            *StaticDevice.objects.select_for_update().filter(user=user, confirmed=True),
        ]
        accepted = token and any(device.verify_token(token) for device in devices)
    if accepted:
        request.session[SESSION_KEY] = GIVEN
        axes_reset(username=user.get_username())
        return True
    user_login_failed.send(sender=__name__, credentials=credentials, request=request)
    if AxesProxyHandler.is_locked(request, credentials):
        raise LockedOut
    return False


def lockout_response(request: HttpRequest) -> HttpResponse:
    """Signs the session out and answers as a password lockout does."""
    logout(request)
    return render(
        request,
        settings.AXES_LOCKOUT_TEMPLATE,
        {"cooloff_timedelta": settings.AXES_COOLOFF_TIME},
        status=429,
    )


@transaction.atomic
def second_factor_reset(*, membership: Membership, acting: Membership) -> SecondFactorReset:
    """Clears a member's authenticator and recovery codes (a lost phone).

    By another admin of the member's organization, never by the member: a
    stolen password alone must not be enough to remove the second factor.
    """
    if acting.role != Role.ADMIN or acting.organization_id != membership.organization_id:
        raise PermissionDenied("Only an admin of the member's organization can reset their second factor.")
    if acting.user_id == membership.user_id:
        raise PermissionDenied("Another admin must reset your own second factor.")
    TOTPDevice.objects.filter(user_id=membership.user_id).delete()
    StaticDevice.objects.filter(user_id=membership.user_id).delete()
    return SecondFactorReset.objects.create(
        organization_id=membership.organization_id,
        user_id=membership.user_id,
        reset_by=acting.user,
        reset_at=timezone.now(),
    )


@checks.register(checks.Tags.security, deploy=True)
def demo_exemption_off_in_production(**kwargs: object) -> list[checks.CheckMessage]:
    if settings.TWO_FACTOR_DEMO_EXEMPT:
        return [
            checks.Error(
                "TWO_FACTOR_DEMO_EXEMPT is on: admins could sign in without a second factor.",
                hint="It is for the local demo only; unset it in production.",
                id="clinics.E001",
            )
        ]
    return []
