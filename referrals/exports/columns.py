"""What a referral export holds: its columns, and the list's filters as the job keeps them.

Patient data (names, date of birth, phone, email, and the name of a patient
who referred another) is in its own columns, written only when the admin
confirmed that the file will hold it. Notes are never exported: free text
may carry anything about the patient.
"""

import datetime
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils import timezone

from clinics.phones import phone_display

from ..models import BodyRegion, Channel, LossReason, Priority, Referral, SourceType, Status


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Referral], object]
    # The fields `value` reads, as `QuerySet.only()` names them: the query loads nothing else.
    fields: tuple[str, ...]
    patient_data: bool = False


def _field(name: str) -> Callable[[Referral], object]:
    return lambda referral: getattr(referral, name)


def _label(name: str, choices: type[models.Choices]) -> Callable[[Referral], object]:
    # A dict read once: Model.get_FOO_display() rebuilds the choices on every call.
    labels = dict(choices.choices)
    return lambda referral: labels.get(getattr(referral, name), getattr(referral, name))


def _related_name(relation: str) -> Callable[[Referral], object]:
    return lambda referral: getattr(getattr(referral, relation), "name", "")


def _received(referral: Referral) -> str:
    # In the active zone: the task activates the one the list was read in.
    return timezone.localtime(referral.received_at).strftime("%Y-%m-%d %H:%M")


def _first_appointment(referral: Referral) -> str:
    # On the clock of the clinic it is at, as the referral's page shows it.
    if referral.first_appointment_at is None or referral.first_appointment_clinic is None:
        return ""
    zone = zoneinfo.ZoneInfo(referral.first_appointment_clinic.timezone)
    return referral.first_appointment_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _referred_by(referral: Referral) -> str:
    # A patient who sent another is named only in the patient-data column below.
    return "" if referral.source_type == SourceType.PATIENT else referral.source_label


def _referring_patient(referral: Referral) -> str:
    return referral.source_name if referral.source_type == SourceType.PATIENT else ""


def _therapist(referral: Referral) -> str:
    return str(referral.therapist) if referral.therapist else ""


SOURCE_FIELDS = (
    "source_type",
    "source_name",
    "physician__first_name",
    "physician__last_name",
    "physician__credential",
)
COLUMNS = (
    Column("Referral", _field("number"), ("number",)),
    Column("Patient last name", _field("patient_last_name"), ("patient_last_name",), patient_data=True),
    Column("Patient first name", _field("patient_first_name"), ("patient_first_name",), patient_data=True),
    Column(
        "Date of birth",
        lambda referral: referral.patient_birth_date.isoformat() if referral.patient_birth_date else "",
        ("patient_birth_date",),
        patient_data=True,
    ),
    Column(
        "Patient phone",
        lambda referral: phone_display(referral.patient_phone),
        ("patient_phone",),
        patient_data=True,
    ),
    Column("Patient email", _field("patient_email"), ("patient_email",), patient_data=True),
    Column("Received", _received, ("received_at",)),
    Column("Clinic", _related_name("clinic"), ("clinic__name",)),
    Column("Status", _label("status", Status), ("status",)),
    Column("Loss reason", _label("loss_reason", LossReason), ("loss_reason",)),
    Column(
        "First appointment",
        _first_appointment,
        ("first_appointment_at", "first_appointment_clinic__timezone"),
    ),
    Column(
        "Appointment clinic", _related_name("first_appointment_clinic"), ("first_appointment_clinic__name",)
    ),
    Column("Source", _label("source_type", SourceType), ("source_type",)),
    Column("Referred by", _referred_by, SOURCE_FIELDS),
    Column("Referring patient", _referring_patient, ("source_type", "source_name"), patient_data=True),
    Column(
        "Physician NPI",
        lambda referral: referral.physician.npi if referral.physician else "",
        ("physician__npi",),
    ),
    Column("Referring practice", _related_name("referring_practice"), ("referring_practice__name",)),
    Column("Channel", _label("channel", Channel), ("channel",)),
    Column("Diagnoses", lambda referral: "; ".join(referral.diagnosis_codes), ("diagnosis_codes",)),
    Column("Body region", _label("body_region", BodyRegion), ("body_region",)),
    Column("Priority", _label("priority", Priority), ("priority",)),
    Column("Payer", _related_name("payer"), ("payer__name",)),
    Column("Therapist", _therapist, ("therapist__first_name", "therapist__last_name", "therapist__username")),
    Column("Visits attended", _field("visits_attended"), ("visits_attended",)),
    Column("Billed", _field("billed_amount"), ("billed_amount",)),
    Column("Collected", _field("collected_amount"), ("collected_amount",)),
)


def export_columns(*, include_patient_data: bool) -> list[Column]:
    return [column for column in COLUMNS if include_patient_data or not column.patient_data]


def fields_read(columns: list[Column]) -> list[str]:
    return list(dict.fromkeys(field for column in columns for field in column.fields))


def filters_for_storage(filters: Mapping[str, Any]) -> dict[str, str | int]:
    """The list's parsed filters as JSON: a record by its id, a date in ISO form.

    `selectors.referral_list` takes them back as they are stored (the ORM
    reads an id for a record and an ISO string for a date), so the job filters
    exactly as the list did.
    """
    stored: dict[str, str | int] = {}
    for name, value in filters.items():
        if isinstance(value, models.Model):
            stored[name] = value.pk
        elif isinstance(value, datetime.date):
            stored[name] = value.isoformat()
        else:
            stored[name] = str(value)
    return stored


def download_name(*, export_id: int, created_on: datetime.date) -> str:
    return f"rapport-referrals-{created_on:%Y-%m-%d}-{export_id}.csv"


def storage_name(*, organization_id: int, export_id: int) -> str:
    """Where an export's file is kept: one name per export, so a rerun replaces, never adds, a file."""
    return f"referral-exports/{organization_id}/{export_id}.csv"
