"""Referrals and their history in the organization data export (clinics/exports/registry.py)."""

from clinics.exports.registry import exclude, register

from .models import (
    AppointmentChange,
    ContactAttempt,
    PatientCorrection,
    PatientDetailsRemoval,
    PendingDocument,
    PlanOfCare,
    Referral,
    ReferralCounter,
    ReferralDocument,
    ReferralExport,
    ReferralSettings,
    StatusChange,
)

register(
    Referral,
    name="referrals",
    description="Every referral, with its patient's details, source, status and totals.",
)
register(StatusChange, name="referral_status_changes", description="Each change of a referral's status.")
register(
    AppointmentChange,
    name="referral_appointment_changes",
    description="Each first appointment booked, moved or cancelled.",
)
register(
    ContactAttempt, name="referral_contact_attempts", description="Each attempt to reach a referred patient."
)
register(
    PatientCorrection,
    name="referral_patient_corrections",
    description="Each correction of a referral's patient details: which fields, by whom, when (no values).",
)
register(
    ReferralDocument,
    name="referral_documents",
    description="The documents attached to referrals (orders, notes): their type, size and who added them. "
    "The documents themselves are not included.",
    exclude_fields=("file",),
)
register(
    PlanOfCare,
    name="plans_of_care",
    description="Plans of care: their periods, certifying physician and signatures.",
)
register(
    PatientDetailsRemoval,
    name="patient_details_removals",
    description="Each removal of patient details past the retention period: when, by whom, which referrals.",
)
register(ReferralSettings, name="referral_settings", description="The organization's referral settings.")
register(
    ReferralExport,
    name="referral_exports",
    description="Every CSV export of the referral list: who asked, with which filters, when.",
    exclude_fields=("file", "claim_token"),
)
exclude(ReferralCounter, reason="the last referral number given, which referrals.csv shows.")
exclude(
    PendingDocument,
    reason="documents uploaded on an intake form that was not sent again; no referral holds them "
    "and they are deleted within hours.",
)
