from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User

from .inputs import ModelFields
from .models import (
    Clinic,
    Membership,
    Organization,
    OrganizationExport,
    Payer,
    Population,
    Role,
    ServiceOffering,
)
from .phones import PhoneValue

if TYPE_CHECKING:
    from .settings_sections import SettingsSection


@dataclass(frozen=True, kw_only=True)
class ClinicFields(ModelFields):
    name: str
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    phone: PhoneValue = ""
    timezone: str
    is_active: bool = True


CLINIC_FIELDS = ClinicFields.names()


@transaction.atomic
def clinic_save(
    *,
    organization: Organization,
    clinic: Clinic | None = None,
    fields: ClinicFields,
    payers: Iterable[Payer] | None = None,
) -> Clinic:
    """Creates a clinic, or updates `clinic`, after full validation."""
    clinic = clinic or Clinic(organization=organization)
    if clinic.organization_id != organization.pk:
        raise ValidationError("That clinic belongs to another organization.")
    fields.assign_to(clinic)
    clinic.full_clean()
    clinic.save()
    if payers is not None:
        payers = list(payers)
        if any(payer.organization_id != organization.pk for payer in payers):
            raise ValidationError("That payer belongs to another organization.")
        clinic.payers.set(payers)
    return clinic


def staff_username(*, organization: Organization, name: str) -> str:
    """The sign-in name of `name` in `organization`: `<organization slug>.<name>`.

    Usernames are unique across the installation. Prefixed with the
    organization's slug (which has no dot), the name an admin chooses can
    only collide with a name in their own organization's namespace: "already
    exists" says nothing about other organizations.
    """
    return f"{organization.slug}.{name}"


@transaction.atomic
def staff_create(
    *,
    organization: Organization,
    username: str,
    password: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    home_clinic: Clinic | None = None,
) -> Membership:
    """Creates a staff account and its membership in `organization` together.

    `username` is the short name; the account's is `staff_username(...)`. The
    email address is not checked for uniqueness: refusing one that another
    organization's staff uses would tell that it exists.
    """
    user = get_user_model()(
        username=staff_username(organization=organization, name=username),
        first_name=first_name,
        last_name=last_name,
        email=email,
    )
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from error
    user.set_password(password)
    user.full_clean()
    user.save()
    membership = Membership(organization=organization, user=user, role=role, home_clinic=home_clinic)
    membership.full_clean()
    membership.save()
    # A new membership is a role given: later apps hear of it as of any change (the audit trail records it).
    membership_changed(membership)
    return membership


def _ensure_another_active_admin(membership: Membership) -> None:
    """Refuses to take away the organization's last active admin; call inside the change's transaction.

    Two admins demoting each other at once would each still see the other as
    an admin. So the check first locks the organization's row: such changes
    queue, and the second one's count (a new snapshot under READ COMMITTED)
    sees what the first committed. FOR NO KEY UPDATE is the weakest lock that
    conflicts with itself (two FOR SHARE locks would not), and unlike FOR
    UPDATE it does not block the key-share lock that inserting any row
    referencing the organization takes, so the organization's other work goes
    on. SQLite's IMMEDIATE transactions already serialize the two.
    """
    Organization.objects.select_for_update(no_key=True).filter(pk=membership.organization_id).exists()
    others = Membership.objects.filter(
        organization_id=membership.organization_id, role=Role.ADMIN, is_active=True
    ).exclude(pk=membership.pk)
    if not others.exists():
        raise ValidationError(
            "An organization needs at least one active admin. Make someone else an admin first."
        )


@transaction.atomic
def membership_update(
    *, membership: Membership, acting_user: User, role: str, home_clinic: Clinic | None, timezone: str = ""
) -> Membership:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.ADMIN and role != Role.ADMIN and membership.is_active:
        if membership.user_id == acting_user.pk:
            raise ValidationError("You cannot remove your own admin role.")
        _ensure_another_active_admin(membership)
    membership.role = role
    membership.home_clinic = home_clinic
    membership.timezone = timezone
    membership.full_clean()
    membership.save(update_fields=["role", "home_clinic", "timezone"])
    membership_changed(membership)
    return membership


@transaction.atomic
def membership_deactivate(*, membership: Membership, acting_user: User) -> Membership:
    """Ends a person's access to the organization.

    Their open sessions end on their next request, when OrganizationMiddleware
    finds no active membership for it.
    """
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.user_id == acting_user.pk:
        raise ValidationError("You cannot deactivate yourself.")
    if not membership.is_active:
        return membership
    if membership.role == Role.ADMIN:
        _ensure_another_active_admin(membership)
    membership.is_active = False
    membership.deactivated_at = timezone.now()
    membership.save(update_fields=["is_active", "deactivated_at"])
    membership_changed(membership)
    return membership


@transaction.atomic
def membership_reactivate(*, membership: Membership) -> Membership:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    membership.is_active = True
    membership.deactivated_at = None
    membership.save(update_fields=["is_active", "deactivated_at"])
    membership_changed(membership)
    return membership


@dataclass(frozen=True, kw_only=True)
class PayerFields(ModelFields):
    name: str
    category: str
    is_active: bool = True


def payer_save(*, organization: Organization, payer: Payer | None = None, fields: PayerFields) -> Payer:
    payer = payer or Payer(organization=organization)
    if payer.organization_id != organization.pk:
        raise ValidationError("That payer belongs to another organization.")
    fields.assign_to(payer)
    payer.full_clean()
    payer.save()
    return payer


@dataclass(frozen=True, kw_only=True)
class ServiceOfferingFields(ModelFields):
    clinic: Clinic
    name: str
    description: str = ""
    is_active: bool = True


@transaction.atomic
def service_offering_save(
    *,
    organization: Organization,
    offering: ServiceOffering | None = None,
    fields: ServiceOfferingFields,
    populations: Iterable[Population] = (),
) -> ServiceOffering:
    offering = offering or ServiceOffering(organization=organization)
    if offering.organization_id != organization.pk:
        raise ValidationError("That service belongs to another organization.")
    fields.assign_to(offering)
    offering.full_clean()
    offering.save()
    offering.populations.set(populations)
    return offering


def organization_update(*, organization: Organization, name: str, timezone: str) -> Organization:
    """The organization's own settings: its name and the time zone its days are counted in."""
    organization.name = name
    organization.timezone = timezone
    organization.full_clean(exclude=["slug"])  # the slug does not change here
    organization.save(update_fields=["name", "timezone"])
    return organization


class SettingsSectionRefused(Exception):
    """A settings section's service refused its values; nothing of the page was saved."""

    def __init__(self, key: str, error: ValidationError) -> None:
        super().__init__(key, error)
        self.key = key
        self.error = error


@transaction.atomic
def organization_settings_save(
    *, organization: Organization, changes: "Sequence[tuple[SettingsSection, dict[str, Any]]]"
) -> None:
    """Saves every section of the settings page in one transaction, then runs each section's after-save hook.

    The hooks run after the commit (a background job, say), so a rolled-back
    save triggers nothing; a failing hook fails no save.
    """
    for section, values in changes:
        try:
            section.save(organization=organization, **values)
        except ValidationError as error:
            raise SettingsSectionRefused(section.key, error) from error
    settings_saved(organization=organization, keys=[section.key for section, _ in changes])
    for section, _ in changes:
        if section.after_save is not None:
            transaction.on_commit(partial(section.after_save, organization=organization), robust=True)


# Later apps hear that the settings page was saved (the audit trail records
# it), inside the save's transaction: the record and the change stand or fall together.
SettingsHook = Callable[..., None]
_settings_hooks: list[SettingsHook] = []


def register_settings_saved(hook: SettingsHook) -> SettingsHook:
    """Calls `hook(organization=…, keys=[section keys])` inside the settings page's saving transaction."""
    if hook not in _settings_hooks:
        _settings_hooks.append(hook)
    return hook


def settings_saved(*, organization: Organization, keys: list[str]) -> None:
    for hook in _settings_hooks:
        hook(organization=organization, keys=keys)


# The access trail (above this app) records who asked for and who downloaded
# the organization's data export: it registers here when it loads. A hook
# that fails refuses the download, so the file never leaves unrecorded.
DataExportHook = Callable[..., None]
_data_export_hooks: list[DataExportHook] = []


def register_data_export_event(hook: DataExportHook) -> DataExportHook:
    """Calls `hook(export=…, user=…, action="requested" | "downloaded")` for each request and download."""
    if hook not in _data_export_hooks:
        _data_export_hooks.append(hook)
    return hook


def data_export_event(*, export: OrganizationExport, user: User, action: str) -> None:
    for hook in _data_export_hooks:
        hook(export=export, user=user, action=action)


# Later apps grant things through a membership (outreach's calendar address)
# and must withdraw them when it ends or loses its role, without this app
# importing them: they register here when they load.
MembershipHook = Callable[[Membership], None]
_membership_hooks: list[MembershipHook] = []


def register_membership_changed(hook: MembershipHook) -> MembershipHook:
    """Calls `hook(membership)` inside the transaction that changes a membership's role or active state.

    Inside, not after the commit: what the old access granted is withdrawn
    together with the access, or the change fails as a whole.
    """
    if hook not in _membership_hooks:
        _membership_hooks.append(hook)
    return hook


def membership_changed(membership: Membership) -> None:
    """Tells the registered apps that `membership`'s role or active state has just been saved."""
    for hook in _membership_hooks:
        hook(membership)
