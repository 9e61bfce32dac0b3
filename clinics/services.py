from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User

from .models import Clinic, Membership, Organization, Role

CLINIC_FIELDS = (
    "name",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "phone",
    "timezone",
    "is_active",
)


def clinic_save(*, organization: Organization, clinic: Clinic | None = None, **fields) -> Clinic:
    """Creates a clinic, or updates `clinic`, after full validation."""
    unknown = set(fields) - set(CLINIC_FIELDS)
    if unknown:
        raise TypeError(f"Unknown clinic fields: {sorted(unknown)}")
    clinic = clinic or Clinic(organization=organization)
    if clinic.organization_id != organization.pk:
        raise ValidationError("That clinic belongs to another organization.")
    for name, value in fields.items():
        setattr(clinic, name, value)
    clinic.full_clean()
    clinic.save()
    return clinic


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
    """Creates a staff account and its membership in `organization` together."""
    user = get_user_model()(username=username, first_name=first_name, last_name=last_name, email=email)
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
    return membership


def _ensure_another_active_admin(membership: Membership) -> None:
    others = Membership.objects.filter(
        organization_id=membership.organization_id, role=Role.ADMIN, is_active=True
    ).exclude(pk=membership.pk)
    if not others.exists():
        raise ValidationError(
            "An organization needs at least one active admin. Make someone else an admin first."
        )


@transaction.atomic
def membership_update(
    *, membership: Membership, acting_user: User, role: str, home_clinic: Clinic | None
) -> Membership:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.ADMIN and role != Role.ADMIN and membership.is_active:
        if membership.user_id == acting_user.pk:
            raise ValidationError("You cannot remove your own admin role.")
        _ensure_another_active_admin(membership)
    membership.role = role
    membership.home_clinic = home_clinic
    membership.full_clean()
    membership.save(update_fields=["role", "home_clinic"])
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
    return membership


@transaction.atomic
def membership_reactivate(*, membership: Membership) -> Membership:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    membership.is_active = True
    membership.deactivated_at = None
    membership.save(update_fields=["is_active", "deactivated_at"])
    return membership
