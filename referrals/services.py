from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from clinics.models import Organization
from physicians.services import physician_save

from .attachments import sniff
from .models import TRANSITIONS, LossReason, PlanOfCare, Referral, Status, StatusChange, normalize_icd10
from .plans import default_ends_on

REFERRAL_FIELDS = (
    "clinic",
    "source_type",
    "physician",
    "source_name",
    "patient_first_name",
    "patient_last_name",
    "patient_birth_date",
    "patient_phone",
    "patient_email",
    "received_at",
    "channel",
    "diagnosis_codes",
    "body_region",
    "payer",
    "priority",
    "notes",
    "therapist",
    "document",
)
# Outcome and money: what front desk does not edit.
CARE_FIELDS = ("visits_attended", "billed_amount", "collected_amount")


class StaleReferral(ValidationError):
    """Someone else saved the referral after this copy was loaded."""


def _assign(referral: Referral, fields: dict, allowed: tuple[str, ...]) -> None:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise TypeError(f"Unknown referral fields: {sorted(unknown)}")
    for name, value in fields.items():
        setattr(referral, name, value)
    referral.diagnosis_codes = [normalize_icd10(code) for code in referral.diagnosis_codes]
    referral.patient_first_name = referral.patient_first_name.strip()
    referral.patient_last_name = referral.patient_last_name.strip()


@transaction.atomic
def referral_create(*, organization: Organization, user: User, **fields) -> Referral:
    referral = Referral(organization=organization, created_by=user)
    _assign(referral, fields, REFERRAL_FIELDS)
    if referral.document:
        referral.document_content_type, _ = sniff(referral.document)
    referral.full_clean()
    referral.save()
    StatusChange.objects.create(
        organization=organization,
        referral=referral,
        to_status=Status.RECEIVED,
        changed_by=user,
        changed_at=referral.received_at,
    )
    return referral


@transaction.atomic
def referral_update(*, referral: Referral, version: int, allowed: tuple[str, ...], **fields) -> Referral:
    """Saves edits made on the copy loaded at `version`; refuses them if someone saved since."""
    _assign(referral, fields, allowed)
    referral.full_clean()
    updated = Referral.objects.filter(pk=referral.pk, version=version).update(
        **{name: getattr(referral, name) for name in {*fields, "diagnosis_codes"} & set(allowed)},
        version=F("version") + 1,
        updated_at=timezone.now(),
    )
    if not updated:
        raise StaleReferral(
            "Someone else changed this referral while you were editing it. "
            "Your changes are below, not saved: check the current version, then save again."
        )
    referral.version = version + 1
    return referral


@transaction.atomic
def referral_transition(
    *, referral: Referral, user: User, to_status: str, version: int | None = None, loss_reason: str = ""
) -> Referral:
    """Moves a referral along the pipeline and records who moved it, when, from where."""
    current = Referral.objects.select_for_update().get(pk=referral.pk)
    if version is not None and current.version != version:
        raise StaleReferral("Someone else changed this referral a moment ago; reload it and try again.")
    if to_status not in TRANSITIONS[current.status]:
        allowed = ", ".join(Status(s).label.lower() for s in sorted(TRANSITIONS[current.status])) or "nothing"
        raise ValidationError(
            f"A {current.get_status_display().lower()} referral cannot become "
            f"{Status(to_status).label.lower()}; it can become: {allowed}."
        )
    if to_status == Status.LOST and loss_reason not in LossReason.values:
        raise ValidationError("Say why the referral was lost.")
    now = timezone.now()
    StatusChange.objects.create(
        organization_id=current.organization_id,
        referral=current,
        from_status=current.status,
        to_status=to_status,
        loss_reason=loss_reason if to_status == Status.LOST else "",
        changed_by=user,
        changed_at=now,
    )
    current.status = to_status
    current.loss_reason = loss_reason if to_status == Status.LOST else ""
    current.version += 1
    current.save(update_fields=["status", "loss_reason", "version", "updated_at"])
    return current


@transaction.atomic
def referral_intake(
    *, organization: Organization, user: User, new_physician: dict | None = None, **fields
) -> Referral:
    """Logs a referral at the front desk, adding its physician to the directory first when new."""
    if new_physician:
        fields["physician"] = physician_save(organization=organization, user=user, **new_physician)
    return referral_create(organization=organization, user=user, **fields)


PLAN_FIELDS = ("certifier", "starts_on", "ends_on", "sent_on", "signed_on")


@transaction.atomic
def plan_of_care_save(
    *, organization: Organization, referral: Referral, plan: PlanOfCare | None = None, **fields
) -> PlanOfCare:
    """Records a plan of care, its sending or signature; the end defaults to the longest certification."""
    unknown = set(fields) - set(PLAN_FIELDS)
    if unknown:
        raise TypeError(f"Unknown plan-of-care fields: {sorted(unknown)}")
    plan = plan or PlanOfCare(organization=organization, referral=referral)
    if plan.referral_id != referral.pk or referral.organization_id != organization.pk:
        raise ValidationError("That plan of care belongs to another referral.")
    for name, value in fields.items():
        setattr(plan, name, value)
    if plan.starts_on and not plan.ends_on:
        plan.ends_on = default_ends_on(organization, plan.starts_on)
    plan.full_clean()
    plan.save()
    return plan
