import uuid
from datetime import datetime, timedelta
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import F
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from accounts.models import User
from clinics.models import Organization
from physicians.services import physician_save

from . import selectors
from .attachments import sniff
from .models import (
    PATIENT_FIELDS,
    TRANSITIONS,
    LossReason,
    PatientCorrection,
    PendingDocument,
    PlanOfCare,
    Referral,
    ReferralDocument,
    ReferralSettings,
    Status,
    StatusChange,
    normalize_icd10,
)
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
def referral_create(
    *, organization: Organization, user: User, pending_document: PendingDocument | None = None, **fields
) -> Referral:
    """Saves a new referral with its first history row and, if the form kept one, its document."""
    referral = Referral(organization=organization, created_by=user)
    _assign(referral, fields, REFERRAL_FIELDS)
    referral.full_clean()
    referral.save()
    StatusChange.objects.create(
        organization=organization,
        referral=referral,
        to_status=Status.RECEIVED,
        changed_by=user,
        changed_at=referral.received_at,
    )
    if pending_document is not None:
        _pending_document_claim(referral=referral, user=user, pending=pending_document)
    return referral


@transaction.atomic
def referral_update(
    *, referral: Referral, user: User, version: int, allowed: tuple[str, ...], **fields
) -> Referral:
    """Saves edits made on the copy loaded at `version`; refuses them if someone saved since.

    A change to the patient's details is recorded as a PatientCorrection
    (which fields, who, when), compared with the copy the edit was made on.
    """
    _assign(referral, fields, allowed)
    referral.full_clean()
    before = (
        Referral.objects.select_for_update()
        .filter(pk=referral.pk, version=version)
        .values(*PATIENT_FIELDS)
        .first()
    )
    if before is None:
        raise StaleReferral(
            "Someone else changed this referral while you were editing it. "
            "Your changes are below, not saved: check the current version, then save again."
        )
    now = timezone.now()
    Referral.objects.filter(pk=referral.pk).update(
        **{name: getattr(referral, name) for name in {*fields, "diagnosis_codes"} & set(allowed)},
        version=F("version") + 1,
        updated_at=now,
    )
    corrected = [
        name for name in PATIENT_FIELDS if name in fields and getattr(referral, name) != before[name]
    ]
    if corrected:
        PatientCorrection.objects.create(
            organization_id=referral.organization_id,
            referral=referral,
            fields=corrected,
            corrected_by=user,
            corrected_at=now,
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
        plan.ends_on = default_ends_on(
            selectors.referral_settings_get(organization=organization), plan.starts_on
        )
    plan.full_clean()
    plan.save()
    return plan


SWEEP_BATCH = 500
PENDING_DOCUMENT_GONE = (
    "The document attached before is no longer kept (it was sent with another form, or too long ago). "
    "Attach it again."
)


def _delete_file_on_commit(file: FieldFile) -> None:
    """Deletes a stored file once the row that named it is gone for good; a rollback keeps both."""
    name, storage = file.name, file.storage
    transaction.on_commit(lambda: storage.delete(name))


@transaction.atomic
def referral_document_add(*, referral: Referral, user: User, upload: File) -> ReferralDocument:
    """Adds a document to a referral (a page faxed later), checked by its content like the one at intake."""
    kind = sniff(upload)
    document = ReferralDocument(
        organization_id=referral.organization_id,
        referral=referral,
        content_type=kind.content_type,
        size=upload.size,
        added_by=user,
        added_at=timezone.now(),
    )
    # The name given here is ignored: the stored one is random, with the sniffed type's extension.
    document.file.save("document", upload, save=False)
    document.save()
    return document


@transaction.atomic
def _pending_document_keep(*, organization: Organization, user: User, upload: File) -> PendingDocument:
    """Keeps a document attached to an intake form that comes back unsaved, for the next submit."""
    kind = sniff(upload)
    pending = PendingDocument(
        organization=organization,
        uploaded_by=user,
        content_type=kind.content_type,
        size=upload.size,
        original_name=PurePath(upload.name or "").name[-255:] or "document",
    )
    pending.file.save("document", upload, save=False)
    pending.save()
    return pending


def _pending_document_discard(*, pending: PendingDocument) -> None:
    pending.delete()
    _delete_file_on_commit(pending.file)


@transaction.atomic
def pending_document_resolve(
    *,
    organization: Organization,
    user: User,
    upload: File | None,
    key: uuid.UUID | None,
    remove: bool,
) -> PendingDocument | None:
    """The document an intake form carries after this submit, kept server-side.

    1. A newly chosen file is kept, replacing one kept before.
    2. Otherwise "remove" drops the kept document.
    3. Otherwise the kept document stays, if `key` is one of this user's in
       this organization; a key that is not (swept, claimed, someone else's)
       is a ValidationError, so the form says so instead of saving the
       referral without its document.
    """
    kept = selectors.pending_document(organization=organization, user=user, key=key) if key else None
    if upload:
        new = _pending_document_keep(organization=organization, user=user, upload=upload)
        if kept:
            _pending_document_discard(pending=kept)
        return new
    if key and kept is None:
        if remove:
            return None
        raise ValidationError(PENDING_DOCUMENT_GONE)
    if remove and kept:
        _pending_document_discard(pending=kept)
        return None
    return kept


def _pending_document_claim(*, referral: Referral, user: User, pending: PendingDocument) -> ReferralDocument:
    """Turns a kept document into the referral's: once, and only for its uploader in its organization."""
    claimed, _ = PendingDocument.objects.filter(
        pk=pending.pk, organization_id=referral.organization_id, uploaded_by=user
    ).delete()
    if not claimed:
        raise ValidationError(PENDING_DOCUMENT_GONE)
    return ReferralDocument.objects.create(
        organization_id=referral.organization_id,
        referral=referral,
        file=pending.file.name,
        content_type=pending.content_type,
        size=pending.size,
        added_by=user,
        added_at=timezone.now(),
    )


def pending_documents_sweep(*, now: datetime | None = None) -> int:
    """Deletes kept documents no form can send any more, and their files; returns how many.

    A form is sent within its session, so a document older than the longest
    session is abandoned. Rows are locked and skipped if locked, so a referral
    claiming one at this moment either gets it or is told to attach it again,
    and a file is deleted only with the row that named it.
    """
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.SESSION_ABSOLUTE_LIFETIME)
    swept = 0
    while True:
        with transaction.atomic():
            batch = list(
                PendingDocument.objects.select_for_update(skip_locked=True)
                .filter(created_at__lt=cutoff)
                .order_by("pk")[:SWEEP_BATCH]
            )
            PendingDocument.objects.filter(pk__in=[pending.pk for pending in batch]).delete()
            for pending in batch:
                _delete_file_on_commit(pending.file)
        swept += len(batch)
        if len(batch) < SWEEP_BATCH:
            return swept


def referral_settings_update(
    *,
    organization: Organization,
    contact_sla_business_days: int,
    poc_signature_days: int,
    poc_certification_days: int,
) -> ReferralSettings:
    rules = selectors.referral_settings_get(organization=organization)
    rules.contact_sla_business_days = contact_sla_business_days
    rules.poc_signature_days = poc_signature_days
    rules.poc_certification_days = poc_certification_days
    rules.full_clean(exclude=["organization"])  # the organization it was read for
    rules.save()
    return rules
