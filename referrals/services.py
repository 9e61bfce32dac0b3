import dataclasses
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Case, CharField, F, Max, OuterRef, Subquery, Value, When
from django.db.models.fields.files import FieldFile
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from clinics.clock import clinic_clock
from clinics.history import history_record_bulk
from clinics.inputs import ModelFields
from clinics.models import Clinic, Membership, Organization, Payer
from clinics.phones import PhoneValue
from clinics.roles import ALL_ROLES, acts_as
from physicians.models import Physician
from physicians.services import PhysicianFields, physician_save

from . import selectors
from .attachments import sniff
from .diagnoses import normalize_icd10
from .models import (
    CONTACT_OUTCOMES,
    OPEN_STATUSES,
    PATIENT_FIELDS,
    TRANSITIONS,
    AppointmentAction,
    AppointmentChange,
    Channel,
    ContactAttempt,
    ContactMethod,
    ContactOutcome,
    LossReason,
    PatientCorrection,
    PendingDocument,
    PlanOfCare,
    Priority,
    Referral,
    ReferralCounter,
    ReferralDocument,
    ReferralSettings,
    SourceType,
    Status,
    StatusChange,
)
from .plans import default_ends_on


@dataclass(frozen=True, kw_only=True)
class ReferralDetails(ModelFields):
    """What anyone on staff may correct after intake: the patient and the referral's particulars."""

    patient_first_name: str
    patient_last_name: str
    patient_birth_date: date
    patient_phone: PhoneValue
    patient_email: str = ""
    patient_account_number: str = ""
    clinic: Clinic
    diagnosis_codes: list[str] = dataclasses.field(default_factory=list)
    body_region: str = ""
    payer: Payer | None = None
    priority: str = Priority.ROUTINE
    therapist: User | None = None
    notes: str = ""


@dataclass(frozen=True, kw_only=True)
class ReferralIntake(ReferralDetails):
    """A new referral: its details, and who sent it, when and how."""

    source_type: str = SourceType.PHYSICIAN
    physician: Physician | None = None
    source_name: str = ""
    received_at: datetime
    channel: str = Channel.FAX


@dataclass(frozen=True, kw_only=True)
class ReferralCare(ModelFields):
    """Visits and money of a referral logged after the fact, as the demo plans them.

    Only the bulk path takes it, and the app that owns dated visits and
    payments turns such totals into dated rows (its demo); no page or
    service types totals any more.
    """

    visits_attended: int
    billed_amount: Decimal
    collected_amount: Decimal


REFERRAL_FIELDS = ReferralIntake.names()

# Apps above keep figures derived from referrals (analytics' rollups) and must
# bring them in step in the same transaction as every write here, without this
# app importing them: they register when they load. A hook takes the ids of the
# referrals just written (the rows carry their organization) and runs inside the
# writing transaction, so a failing hook rolls the write back with it.
ReferralsChangedHook = Callable[[Collection[int]], None]
_referrals_changed_hooks: list[ReferralsChangedHook] = []


def register_referrals_changed(hook: ReferralsChangedHook) -> ReferralsChangedHook:
    """Calls `hook(referral_ids)` inside every transaction that writes referrals or what derives from them."""
    if hook not in _referrals_changed_hooks:
        _referrals_changed_hooks.append(hook)
    return hook


def referrals_changed(*, referral_ids: Collection[int]) -> None:
    """Tells the registered apps which referrals a write changed: details, history, plans or totals."""
    if referral_ids:
        for hook in _referrals_changed_hooks:
            hook(referral_ids)


PATIENT_DETAILS_REMOVED_REFUSAL = (
    "This referral's patient details were removed past the retention period; it is kept as a record "
    "and cannot be edited, moved or reopened. Enter a returning patient as a new referral."
)


class StaleReferral(ValidationError):
    """Someone else saved the referral after this copy was loaded."""


def _assign(referral: Referral, fields: ModelFields) -> None:
    fields.assign_to(referral)
    referral.diagnosis_codes = [normalize_icd10(code) for code in referral.diagnosis_codes]
    referral.patient_first_name = referral.patient_first_name.strip()
    referral.patient_last_name = referral.patient_last_name.strip()
    referral.patient_account_number = referral.patient_account_number.strip()


def referrals_attribute(*, organization: Organization, referrals: Sequence[Referral]) -> None:
    """Records where each referral comes from as things stand: its physician's primary practice and specialty.

    Taken at intake, so "referrals by practice" does not move when the
    physician later changes practice or specialty, or is merged into another
    record. One query for any number of referrals; intake and the demo's bulk
    path both call it. Sets the fields; the caller saves.
    """
    physician_ids = {referral.physician_id for referral in referrals if referral.physician_id}
    attributions = (
        selectors.referral_attributions(organization=organization, physician_ids=physician_ids)
        if physician_ids
        else {}
    )
    for referral in referrals:
        attribution = attributions.get(referral.physician_id) if referral.physician_id else None
        referral.referring_practice_id = attribution.practice_id if attribution else None
        referral.referring_taxonomy_code = attribution.taxonomy_code if attribution else ""


def referral_numbers_take(*, organization: Organization, count: int) -> range:
    """The organization's next `count` referral numbers, to be used in the caller's transaction.

    One UPDATE raises the organization's counter and locks its row until the
    transaction ends: a concurrent intake waits there, then counts on from
    the committed value, so no two referrals ever share a number (the unique
    constraint on (organization, number) says so too). A rolled-back intake
    rolls its count back with it, so the number is handed out again.
    The first intake of an organization makes the row, counting on from the
    highest number its referrals already have.
    """
    counter = ReferralCounter.objects.filter(organization=organization)
    if not counter.update(last_number=F("last_number") + count):
        highest = Referral.objects.filter(organization=organization).aggregate(highest=Max("number"))
        try:
            with transaction.atomic():
                ReferralCounter.objects.create(
                    organization=organization, last_number=(highest["highest"] or 0) + count
                )
        except IntegrityError:  # another intake made the row first: count on from it
            counter.update(last_number=F("last_number") + count)
    last = counter.values_list("last_number", flat=True).get()
    return range(last - count + 1, last + 1)


@transaction.atomic
def referral_create(
    *,
    organization: Organization,
    user: User,
    fields: ReferralIntake,
    pending_document: PendingDocument | None = None,
) -> Referral:
    """Saves a new referral with its first history row and, if the form kept one, its document."""
    referral = Referral(organization=organization, created_by=user)
    _assign(referral, fields)
    referrals_attribute(organization=organization, referrals=[referral])
    referral.full_clean(exclude=["number"])
    # Taken last, so the counter stays locked for as short a time as the transaction allows.
    (referral.number,) = referral_numbers_take(organization=organization, count=1)
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
    referrals_changed(referral_ids=[referral.pk])
    return referral


@transaction.atomic
def referral_update(
    *,
    referral: Referral,
    acting: Membership,
    version: int,
    details: ReferralDetails,
) -> Referral:
    """Saves edits made on the copy loaded at `version`; refuses them if someone saved since.

    Visits and amounts are not among the details: they are the sums of the
    referral's dated visits and payments. A change to the patient's details
    is recorded as a PatientCorrection (which fields, who, when), compared
    with the copy the edit was made on.
    """
    if not acts_as(acting, ALL_ROLES, organization_id=referral.organization_id):
        raise PermissionDenied("Only the staff of the referral's organization can edit it.")
    if referral.patient_details_removed_at is not None:
        raise ValidationError(PATIENT_DETAILS_REMOVED_REFUSAL)
    _assign(referral, details)
    referral.full_clean(exclude=["number"])  # never edited: its uniqueness needs no query here
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
        **{name: getattr(referral, name) for name in details.names()},
        version=F("version") + 1,
        updated_at=now,
    )
    corrected = [name for name in PATIENT_FIELDS if getattr(referral, name) != before[name]]
    if corrected:
        PatientCorrection.objects.create(
            organization_id=referral.organization_id,
            referral=referral,
            fields=corrected,
            corrected_by=acting.user,
            corrected_at=now,
        )
    referral.version = version + 1
    referral.updated_at = now
    # The UPDATE above skips save(), so the change history is written here.
    history_record_bulk([referral], user=acting.user, when=now)
    referrals_changed(referral_ids=[referral.pk])
    return referral


@dataclass(frozen=True, kw_only=True)
class FirstAppointment:
    """The evaluation booked for a referral: when (aware), at which of the organization's clinics."""

    starts_at: datetime
    clinic: Clinic


# Booked further ahead than this is a mistyped year, not a waiting list.
APPOINTMENT_HORIZON = timedelta(days=366)


def _appointment_refusal(*, referral: Referral, appointment: FirstAppointment, now: datetime) -> str | None:
    """Why `appointment` cannot be `referral`'s first appointment, or None when it can."""
    clinic = appointment.clinic
    if clinic.organization_id != referral.organization_id:
        return "Choose one of your organization's clinics."
    if not clinic.is_active:
        return f"{clinic.name} is no longer active: choose another clinic."
    if appointment.starts_at < referral.received_at:
        return (
            "The first appointment cannot be before the referral was received "
            f"({clinic_clock(referral.received_at, clinic)})."
        )
    if appointment.starts_at > now + APPOINTMENT_HORIZON:
        return "The first appointment is more than a year ahead: check the date."
    return None


def _transition_refusal(
    *,
    current: Referral,
    to_status: str,
    loss_reason: str,
    appointment: FirstAppointment | None,
    now: datetime,
) -> str | None:
    """Why `current` cannot move to `to_status` (the pipeline's rules), or None when it can."""
    if current.patient_details_removed_at is not None:
        # Reopened, it would wait in the queues for a patient nobody can call.
        return PATIENT_DETAILS_REMOVED_REFUSAL
    if to_status not in TRANSITIONS[current.status]:
        allowed = ", ".join(Status(s).label.lower() for s in sorted(TRANSITIONS[current.status])) or "nothing"
        return (
            f"A {current.get_status_display().lower()} referral cannot become "
            f"{Status(to_status).label.lower()}; it can become: {allowed}."
        )
    if to_status == Status.LOST and loss_reason not in LossReason.values:
        return "Say why the referral was lost."
    if to_status == Status.SCHEDULED:
        if appointment is None:
            return "Give the first appointment's date, time and clinic to schedule the referral."
        return _appointment_refusal(referral=current, appointment=appointment, now=now)
    if appointment is not None:
        return "Only scheduling books an appointment."
    return None


def _status_change(
    *, current: Referral, user: User | None, to_status: str, loss_reason: str, now: datetime
) -> StatusChange:
    return StatusChange(
        organization_id=current.organization_id,
        referral=current,
        from_status=current.status,
        to_status=to_status,
        loss_reason=loss_reason if to_status == Status.LOST else "",
        changed_by=user,
        changed_at=now,
    )


def _appointment_changes(
    *,
    current: Referral,
    user: User | None,
    to_status: str,
    appointment: FirstAppointment | None,
    now: datetime,
) -> list[AppointmentChange]:
    """What a move does to the first appointment, applied to `current`, with its history rows.

    Scheduling books the appointment it comes with; losing a scheduled
    referral cancels the appointment the patient will not keep. An
    appointment that was kept (the referral was evaluated) stays: it is when
    the first visit took place.
    """
    changes = []
    if current.status == Status.SCHEDULED and to_status == Status.LOST and current.first_appointment_at:
        assert current.first_appointment_clinic_id is not None
        changes.append(
            AppointmentChange(
                organization_id=current.organization_id,
                referral=current,
                action=AppointmentAction.CANCELLED,
                starts_at=current.first_appointment_at,
                clinic_id=current.first_appointment_clinic_id,
                changed_by=user,
                changed_at=now,
            )
        )
        current.first_appointment_at, current.first_appointment_clinic = None, None
    if to_status == Status.SCHEDULED and appointment is not None:
        changes.append(
            AppointmentChange(
                organization_id=current.organization_id,
                referral=current,
                action=AppointmentAction.BOOKED,
                starts_at=appointment.starts_at,
                clinic=appointment.clinic,
                changed_by=user,
                changed_at=now,
            )
        )
        current.first_appointment_at, current.first_appointment_clinic = (
            appointment.starts_at,
            appointment.clinic,
        )
    return changes


def _move(
    *,
    current: Referral,
    user: User | None,
    to_status: str,
    loss_reason: str = "",
    appointment: FirstAppointment | None = None,
    now: datetime,
) -> None:
    """Moves a locked referral along the pipeline and saves it with its history; the rules are checked."""
    _status_change(current=current, user=user, to_status=to_status, loss_reason=loss_reason, now=now).save()
    AppointmentChange.objects.bulk_create(
        _appointment_changes(
            current=current, user=user, to_status=to_status, appointment=appointment, now=now
        )
    )
    current.status = to_status
    current.loss_reason = loss_reason if to_status == Status.LOST else ""
    current.version += 1
    current.save(
        update_fields=[
            "status",
            "loss_reason",
            "first_appointment_at",
            "first_appointment_clinic",
            "version",
            "updated_at",
        ]
    )
    referrals_changed(referral_ids=[current.pk])


def _locked(referral: Referral, version: int | None) -> Referral:
    current = Referral.objects.select_for_update().get(pk=referral.pk)
    if version is not None and current.version != version:
        raise StaleReferral("Someone else changed this referral a moment ago; reload it and try again.")
    return current


@transaction.atomic
def referral_transition(
    *,
    referral: Referral,
    user: User,
    to_status: str,
    version: int | None = None,
    loss_reason: str = "",
    appointment: FirstAppointment | None = None,
) -> Referral:
    """Moves a referral along the pipeline and records who moved it, when, from where.

    Scheduling takes the first appointment (`appointment`), which is booked
    with the move; see `_appointment_changes` for what other moves do to it.
    """
    current = _locked(referral, version)
    now = timezone.now()
    refusal = _transition_refusal(
        current=current, to_status=to_status, loss_reason=loss_reason, appointment=appointment, now=now
    )
    if refusal:
        raise ValidationError(refusal)
    _move(
        current=current,
        user=user,
        to_status=to_status,
        loss_reason=loss_reason,
        appointment=appointment,
        now=now,
    )
    return current


@transaction.atomic
def referral_reschedule(
    *, referral: Referral, user: User, version: int | None = None, appointment: FirstAppointment
) -> Referral:
    """Changes a scheduled referral's first appointment (another time, another clinic) and records it.

    A referral scheduled before appointments were recorded has none: the
    first one given is recorded as booked.
    """
    current = _locked(referral, version)
    now = timezone.now()
    if current.status != Status.SCHEDULED:
        raise ValidationError(
            f"Only a scheduled referral's appointment can be changed; this one is "
            f"{current.get_status_display().lower()}."
        )
    unchanged = (current.first_appointment_at, current.first_appointment_clinic_id) == (
        appointment.starts_at,
        appointment.clinic.pk,
    )
    refusal = "That is the appointment already booked." if unchanged else None
    refusal = refusal or _appointment_refusal(referral=current, appointment=appointment, now=now)
    if refusal:
        raise ValidationError(refusal)
    AppointmentChange.objects.create(
        organization_id=current.organization_id,
        referral=current,
        action=AppointmentAction.RESCHEDULED if current.first_appointment_at else AppointmentAction.BOOKED,
        starts_at=appointment.starts_at,
        clinic=appointment.clinic,
        changed_by=user,
        changed_at=now,
    )
    current.first_appointment_at, current.first_appointment_clinic = appointment.starts_at, appointment.clinic
    current.version += 1
    current.save(update_fields=["first_appointment_at", "first_appointment_clinic", "version", "updated_at"])
    referrals_changed(referral_ids=[current.pk])
    return current


class ReferralsNotMoved(ValidationError):
    """A bulk move refused as a whole; `messages` says, per referral, why it cannot move."""


SCHEDULE_ONE_AT_A_TIME = (
    "Scheduling books each referral's first appointment: "
    "schedule them one at a time, from each referral's page."
)


@transaction.atomic
def referral_transition_many(
    *,
    organization: Organization,
    user: User,
    referral_ids: Collection[int],
    to_status: str,
    loss_reason: str = "",
) -> list[Referral]:
    """Moves several referrals to `to_status` at once, all or none, in a fixed number of queries.

    1. Scheduling is refused outright: each referral needs its own first
       appointment, which one form for many cannot give.
    2. Locks the organization's referrals with these ids, in id order (so two
       bulk moves never wait on each other in a circle).
    3. Checks each one by the rules `referral_transition` applies; an id that is
       not one of the organization's referrals is refused too.
    4. Any refusal raises ReferralsNotMoved naming every refused referral, and
       nothing moves: a half-done bulk move leaves the desk unsure which moved.
    5. Otherwise writes one history row each (one bulk insert), cancels the
       appointments of scheduled referrals that are lost (one more), and moves
       them all with one UPDATE (two when some lose an appointment), their
       versions bumped as a single move would.
    """
    if to_status not in Status.values:
        raise ValidationError("Choose where to move the referrals.")
    if to_status == Status.SCHEDULED:
        raise ValidationError(SCHEDULE_ONE_AT_A_TIME)
    wanted = set(referral_ids)
    current = list(
        Referral.objects.select_for_update().filter(organization=organization, pk__in=wanted).order_by("pk")
    )
    now = timezone.now()
    # Ids that are not the organization's referrals: they have no number to name them by.
    missing = len(wanted - {r.pk for r in current})
    refusals = [f"No such referral: {missing} of those ticked."] if missing else []
    for referral in current:
        refusal = _transition_refusal(
            current=referral, to_status=to_status, loss_reason=loss_reason, appointment=None, now=now
        )
        if refusal:
            refusals.append(f"#{referral.number}: {refusal}")
    if refusals:
        raise ReferralsNotMoved(refusals)
    StatusChange.objects.bulk_create(
        [
            _status_change(current=referral, user=user, to_status=to_status, loss_reason=loss_reason, now=now)
            for referral in current
        ]
    )
    cancelled = [
        change
        for referral in current
        for change in _appointment_changes(
            current=referral, user=user, to_status=to_status, appointment=None, now=now
        )
    ]
    AppointmentChange.objects.bulk_create(cancelled)
    kept_reason = loss_reason if to_status == Status.LOST else ""
    Referral.objects.filter(pk__in=[referral.pk for referral in current]).update(
        status=to_status, loss_reason=kept_reason, version=F("version") + 1, updated_at=now
    )
    if cancelled:
        Referral.objects.filter(pk__in=[change.referral_id for change in cancelled]).update(
            first_appointment_at=None, first_appointment_clinic=None
        )
    lost_appointment = {change.referral_id for change in cancelled}
    for referral in current:
        referral.status, referral.loss_reason, referral.updated_at = to_status, kept_reason, now
        referral.version += 1
        if referral.pk in lost_appointment:
            referral.first_appointment_at, referral.first_appointment_clinic = None, None
    history_record_bulk(current, user=user, when=now)
    referrals_changed(referral_ids=[referral.pk for referral in current])
    return current


@dataclass(frozen=True, kw_only=True)
class ContactAttemptFields(ModelFields):
    """One try at reaching the patient, as the front desk logs it."""

    method: str = ContactMethod.CALL
    outcome: str
    note: str = ""
    attempted_at: datetime


# A clock a minute fast on the desk's computer is not an attempt in the future.
CLOCK_SLACK = timedelta(minutes=2)


def _attempt_refusal(*, referral: Referral, attempt: ContactAttemptFields, now: datetime) -> str | None:
    """Why `attempt` cannot be logged on `referral` as it stands, or None when it can."""
    if referral.status not in OPEN_STATUSES:
        if referral.status == Status.LOST:
            return "A lost referral takes no contact attempt: reopen it first."
        return "A discharged referral takes no contact attempt."
    if attempt.method not in CONTACT_OUTCOMES:
        return "Choose how you tried to reach the patient."
    if attempt.outcome not in CONTACT_OUTCOMES[attempt.method]:
        method = ContactMethod(attempt.method).label.lower()
        if attempt.outcome not in ContactOutcome.values:
            return "Choose what came of it."
        outcomes = ", ".join(ContactOutcome(o).label.lower() for o in CONTACT_OUTCOMES[attempt.method])
        return (
            f"“{ContactOutcome(attempt.outcome).label}” is not an outcome of a {method}; "
            f"a {method} can be: {outcomes}."
        )
    if attempt.attempted_at > now + CLOCK_SLACK:
        return "The attempt cannot be in the future."
    if attempt.attempted_at < referral.received_at:
        return "The attempt cannot be before the referral was received."
    return None


def _contact_attempt(
    *, referral: Referral, user: User | None, attempt: ContactAttemptFields
) -> ContactAttempt:
    row = ContactAttempt(organization_id=referral.organization_id, referral=referral, attempted_by=user)
    attempt.assign_to(row)
    row.note = " ".join(row.note.split())
    row.full_clean(exclude=["organization", "referral", "attempted_by"])
    return row


def _reaching_moves(referral: Referral, attempt: ContactAttemptFields) -> bool:
    """Whether logging `attempt` moves `referral`: reaching a received referral's patient contacts it."""
    return attempt.outcome == ContactOutcome.REACHED and referral.status == Status.RECEIVED


@transaction.atomic
def contact_attempt_log(
    *, referral: Referral, user: User, attempt: ContactAttemptFields
) -> tuple[ContactAttempt, Referral]:
    """Logs a try at reaching the patient; returns it with the referral as it now stands.

    Reaching the patient of a received referral contacts it: the referral
    moves to contacted, at the attempt's time and by its author, as if they
    had marked it so. What else the call settled (an appointment booked, a
    patient who declined) is a move of its own.
    """
    current = Referral.objects.select_for_update().get(pk=referral.pk)
    refusal = _attempt_refusal(referral=current, attempt=attempt, now=timezone.now())
    if refusal:
        raise ValidationError(refusal)
    row = _contact_attempt(referral=current, user=user, attempt=attempt)
    moves = _reaching_moves(current, attempt)
    row.save()
    if moves:
        # Never before the move that made it received (a reopening, say), so the history stays in order.
        latest = current.status_changes.order_by("-changed_at").values_list("changed_at", flat=True).first()
        moved_at = max(attempt.attempted_at, latest or current.received_at)
        _move(current=current, user=user, to_status=Status.CONTACTED, now=moved_at)
    return row, current


@transaction.atomic
def referral_intake(
    *,
    organization: Organization,
    user: User,
    fields: ReferralIntake,
    new_physician: PhysicianFields | None = None,
    pending_document: PendingDocument | None = None,
) -> Referral:
    """Logs a referral at the front desk, adding its physician to the directory first when new."""
    if new_physician is not None:
        physician = physician_save(organization=organization, user=user, fields=new_physician)
        fields = dataclasses.replace(fields, physician=physician)
    return referral_create(
        organization=organization, user=user, fields=fields, pending_document=pending_document
    )


@dataclass(frozen=True, kw_only=True)
class PlanOfCareFields(ModelFields):
    certifier: Physician
    starts_on: date
    # None: the longest certification the organization allows.
    ends_on: date | None = None
    sent_on: date | None = None
    signed_on: date | None = None


PLAN_FIELDS = PlanOfCareFields.names()


@transaction.atomic
def plan_of_care_save(
    *,
    organization: Organization,
    referral: Referral,
    plan: PlanOfCare | None = None,
    fields: PlanOfCareFields,
) -> PlanOfCare:
    """Records a plan of care, its sending or signature; the end defaults to the longest certification."""
    if plan is None and not referral.is_open:
        # A signature may still arrive for a plan written before the referral
        # closed, so updates stay allowed; a new plan would be care for nobody.
        raise ValidationError(
            "A lost referral takes no new plan of care: reopen it first."
            if referral.status == Status.LOST
            else "A discharged referral takes no new plan of care."
        )
    plan = plan or PlanOfCare(organization=organization, referral=referral)
    if plan.referral_id != referral.pk or referral.organization_id != organization.pk:
        raise ValidationError("That plan of care belongs to another referral.")
    fields.assign_to(plan)
    if plan.starts_on and not plan.ends_on:
        plan.ends_on = default_ends_on(
            selectors.referral_settings_get(organization=organization), plan.starts_on
        )
    plan.full_clean()
    plan.save()
    referrals_changed(referral_ids=[referral.pk])
    return plan


@dataclass(frozen=True, kw_only=True)
class ReferralStep:
    """A move along the pipeline that has already happened: where to, when, who made it, why it was lost.

    A step to scheduled carries the first appointment it booked.
    """

    to_status: str
    changed_at: datetime
    changed_by: User | None
    loss_reason: str = ""
    appointment: FirstAppointment | None = None


@dataclass(frozen=True, kw_only=True)
class ContactAttemptRecord:
    """A try at reaching the patient that has already happened, and who made it."""

    fields: ContactAttemptFields
    attempted_by: User | None


@dataclass(frozen=True, kw_only=True)
class ReferralRecord:
    """A referral logged after the fact, in the state the services would have left it in.

    Its intake as `referral_create` takes it, the steps `referral_transition`
    would have recorded since, the attempts `contact_attempt_log` would have
    logged (a reached one moving a received referral to contacted, as there),
    the plan of care `plan_of_care_save` would have saved, and the visit and
    money totals its dated rows will add up to (`care`, dated by the app that
    owns visits and payments). `logged_at` is when it was typed in (now when
    None).
    """

    intake: ReferralIntake
    created_by: User | None
    logged_at: datetime | None = None
    steps: Sequence[ReferralStep] = ()
    attempts: Sequence[ContactAttemptRecord] = ()
    care: ReferralCare | None = None
    plan: PlanOfCareFields | None = None


# Set from rows the caller read from the organization: `Referral.clean` checks
# that they are its own without a query each; full_clean's lookups would make one.
RELATED_FIELDS = [
    "organization",
    "clinic",
    "physician",
    "referring_practice",
    "payer",
    "therapist",
    "created_by",
    "first_appointment_clinic",
]
BULK_BATCH = 500


@dataclass
class _History:
    """What the services would have written for one record: its moves, appointments and attempts."""

    changes: list[StatusChange]
    appointments: list[AppointmentChange]
    attempts: list[ContactAttempt]


def _record_history(referral: Referral, record: ReferralRecord, now: datetime) -> _History:
    """The history rows the services would have written, applying their rules; moves `referral` along.

    Steps are taken in the order given, which must be the order they
    happened; each attempt goes before the first step after it or at the
    same moment (the call that reached the patient came before the booking).
    """
    history = _History(
        changes=[
            StatusChange(
                organization_id=referral.organization_id,
                referral=referral,
                to_status=Status.RECEIVED,
                changed_by=record.created_by,
                changed_at=referral.received_at,
            )
        ],
        appointments=[],
        attempts=[],
    )
    attempts = deque(sorted(record.attempts, key=lambda attempt: attempt.fields.attempted_at))
    for event in record.steps:
        while attempts and attempts[0].fields.attempted_at <= event.changed_at:
            _record_attempt(referral, attempts.popleft(), history, now)
        refusal = _transition_refusal(
            current=referral,
            to_status=event.to_status,
            loss_reason=event.loss_reason,
            appointment=event.appointment,
            # Booked no further ahead than the horizon from the day it was booked.
            now=event.changed_at,
        )
        if refusal is None and event.changed_at < history.changes[-1].changed_at:
            refusal = "Its steps must be in the order they happened, none before it was received."
        if refusal:
            raise ValidationError(refusal)
        _record_move(referral, history, event.changed_by, event.to_status, event.changed_at, event)
    for attempt in attempts:
        _record_attempt(referral, attempt, history, now)
    return history


def _record_attempt(
    referral: Referral, record: ContactAttemptRecord, history: _History, now: datetime
) -> None:
    refusal = _attempt_refusal(referral=referral, attempt=record.fields, now=now)
    if refusal:
        raise ValidationError(refusal)
    history.attempts.append(
        _contact_attempt(referral=referral, user=record.attempted_by, attempt=record.fields)
    )
    if _reaching_moves(referral, record.fields):
        moved_at = max(record.fields.attempted_at, history.changes[-1].changed_at)
        _record_move(referral, history, record.attempted_by, Status.CONTACTED, moved_at)


def _record_move(
    referral: Referral,
    history: _History,
    user: User | None,
    to_status: str,
    at: datetime,
    step: ReferralStep | None = None,
) -> None:
    loss_reason = step.loss_reason if step else ""
    history.changes.append(
        _status_change(current=referral, user=user, to_status=to_status, loss_reason=loss_reason, now=at)
    )
    history.appointments += _appointment_changes(
        current=referral,
        user=user,
        to_status=to_status,
        appointment=step.appointment if step else None,
        now=at,
    )
    referral.status = to_status
    referral.loss_reason = loss_reason if to_status == Status.LOST else ""


@transaction.atomic
def referrals_create_bulk(*, organization: Organization, records: Sequence[ReferralRecord]) -> list[Referral]:
    """Saves referrals logged after the fact, all or none, with what the one-at-a-time services would write.

    The bulk path for referrals that already have a past (the demo; an
    import), in a fixed number of queries per 500 referrals. Each ends as
    `referral_create`, then `referral_transition` for each step and
    `contact_attempt_log` for each attempt, then `plan_of_care_save` with its
    plan, would have left it, had each run at the moment it names, with the
    totals of `care` awaiting their dated rows:

    1. Fields normalised (`_assign`), attributed (`referrals_attribute`) and
       validated as at intake; related rows must be the organization's.
       Numbers are taken from the organization's counter, in received order.
    2. Steps and attempts obey the services' rules (`TRANSITIONS`, a loss
       reason, an appointment to schedule, an outcome that fits the method),
       in time order from receipt; a reached attempt moves a received
       referral to contacted. Any refusal raises a ValidationError naming the
       record, and nothing is saved.
    3. History: "" → received at `received_at` by `created_by`, then one row
       per move; status, loss reason and first appointment are the last
       move's; `version` counts the saves (intake, each move): totals are
       derived, not a save.
    4. `created_at` is `logged_at`, `updated_at` the latest of it and the moves.
    5. A plan of care without an end runs the longest certification allowed.

    The database's check constraints (a physician for a physician referral, a
    certification that ends after it starts) are left to the database, as one
    query per row and constraint would be most of the cost.
    """
    now = timezone.now()
    referrals: list[Referral] = []
    histories: list[_History] = []
    for number, record in enumerate(records, start=1):
        referral = Referral(organization=organization, created_by=record.created_by)
        _assign(referral, record.intake)
        if record.care is not None:
            record.care.assign_to(referral)
        try:
            referral.full_clean(exclude=[*RELATED_FIELDS, "number"], validate_constraints=False)
            history = _record_history(referral, record, now)
        except ValidationError as error:
            raise ValidationError(f"Referral {number}: {'; '.join(error.messages)}") from error
        histories.append(history)
        referral.version = len(history.changes)
        referral.created_at = record.logged_at or now
        referral.updated_at = max(referral.created_at, history.changes[-1].changed_at)
        referrals.append(referral)
    referrals_attribute(organization=organization, referrals=referrals)
    # Numbered in the order they were received, as the upgrade numbered the referrals it found.
    received_order = sorted(referrals, key=lambda referral: referral.received_at)
    numbers = referral_numbers_take(organization=organization, count=len(referrals)) if referrals else []
    for referral, number in zip(received_order, numbers, strict=True):
        referral.number = number
    stamps = [(referral.created_at, referral.updated_at) for referral in referrals]
    Referral.objects.bulk_create(referrals, batch_size=BULK_BATCH)
    StatusChange.objects.bulk_create([row for h in histories for row in h.changes], batch_size=BULK_BATCH)
    AppointmentChange.objects.bulk_create(
        [row for h in histories for row in h.appointments], batch_size=BULK_BATCH
    )
    ContactAttempt.objects.bulk_create([row for h in histories for row in h.attempts], batch_size=BULK_BATCH)
    plans = PlanOfCare.objects.bulk_create(
        _plans_of_care(organization, referrals, records), batch_size=BULK_BATCH
    )
    _restamp(referrals, stamps)
    # Creation rows, dated when each referral was logged: the starting point
    # every later change of these records is compared with.
    for referral in referrals:
        referral._history_date = referral.created_at  # type: ignore[attr-defined]
        referral._history_user = referral.created_by  # type: ignore[attr-defined]
    history_record_bulk(referrals, user=None, created=True)
    history_record_bulk(plans, user=None, created=True)
    referrals_changed(referral_ids=[referral.pk for referral in referrals])
    return referrals


def _restamp(referrals: list[Referral], stamps: list[tuple[datetime, datetime]]) -> None:
    """Puts back the times bulk_create replaced with now (auto_now), in few UPDATEs.

    One UPDATE per batch of referrals logged the same time after receipt (the
    demo's all are), computing each one's last save from its history: the
    latest step at or after it was logged, else the logging itself. A
    per-row UPDATE (bulk_update) took longer than the inserts.
    """
    by_delay: dict[timedelta, list[int]] = defaultdict(list)
    for referral, (created_at, updated_at) in zip(referrals, stamps, strict=True):
        referral.created_at, referral.updated_at = created_at, updated_at
        by_delay[created_at - referral.received_at].append(referral.pk)
    for delay, pks in by_delay.items():
        logged = F("received_at") + delay
        latest_step = (
            StatusChange.objects.filter(
                referral=OuterRef("pk"), changed_at__gte=OuterRef("received_at") + delay
            )
            .order_by("-changed_at", "-pk")
            .values("changed_at")[:1]
        )
        for start in range(0, len(pks), BULK_BATCH):
            Referral.objects.filter(pk__in=pks[start : start + BULK_BATCH]).update(
                created_at=logged, updated_at=Coalesce(Subquery(latest_step), logged)
            )


def _plans_of_care(
    organization: Organization, referrals: list[Referral], records: Sequence[ReferralRecord]
) -> list[PlanOfCare]:
    rules = selectors.referral_settings_get(organization=organization)
    plans = []
    for number, (referral, record) in enumerate(zip(referrals, records, strict=True), start=1):
        if record.plan is None:
            continue
        plan = PlanOfCare(organization=organization, referral=referral)
        record.plan.assign_to(plan)
        plan.ends_on = plan.ends_on or default_ends_on(rules, plan.starts_on)
        try:
            plan.full_clean(exclude=["organization", "referral", "certifier"], validate_constraints=False)
        except ValidationError as error:
            raise ValidationError(f"Referral {number}'s plan of care: {'; '.join(error.messages)}") from error
        plans.append(plan)
    return plans


SWEEP_BATCH = 500
PENDING_DOCUMENT_GONE = (
    "The document attached before is no longer kept (it was sent with another form, or too long ago). "
    "Attach it again."
)


def _delete_file_on_commit(file: FieldFile) -> None:
    """Deletes a stored file once the row that named it is gone for good; a rollback keeps both."""
    name, storage = file.name, file.storage
    if name:
        transaction.on_commit(lambda: storage.delete(name))


@transaction.atomic
def referral_document_add(*, referral: Referral, user: User, upload: "File[bytes]") -> ReferralDocument:
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
def _pending_document_keep(
    *, organization: Organization, user: User, upload: "File[bytes]"
) -> PendingDocument:
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
    upload: "File[bytes] | None",
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
    unreachable_after_attempts: int,
    patient_details_retention_years: int,
) -> ReferralSettings:
    rules = selectors.referral_settings_get(organization=organization)
    rules.contact_sla_business_days = contact_sla_business_days
    rules.poc_signature_days = poc_signature_days
    rules.poc_certification_days = poc_certification_days
    rules.unreachable_after_attempts = unreachable_after_attempts
    rules.patient_details_retention_years = patient_details_retention_years
    rules.full_clean(exclude=["organization"])  # the organization it was read for
    rules.validate_together()
    rules.save()
    return rules


def referral_account_numbers_remember(*, organization: Organization, numbers: Mapping[int, str]) -> int:
    """Records the clinic's patient account number on referrals that have none yet; returns how many.

    Used when an imported visit or payment is matched to a referral by the
    patient's name and date of birth: the next import then matches it by the
    number. A number already recorded (typed, or matched before) is kept. One
    UPDATE per 500 referrals.
    """
    wanted = {pk: number.strip() for pk, number in numbers.items() if number.strip()}
    ids = sorted(wanted)
    remembered = 0
    for start in range(0, len(ids), BULK_BATCH):
        batch = ids[start : start + BULK_BATCH]
        remembered += Referral.objects.filter(
            organization=organization, pk__in=batch, patient_account_number=""
        ).update(
            patient_account_number=Case(
                *[When(pk=pk, then=Value(wanted[pk])) for pk in batch], output_field=CharField()
            )
        )
    return remembered
