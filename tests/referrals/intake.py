"""What the intake form and the referral page's details form send, and documents to attach."""

from django.core.files.uploadedfile import SimpleUploadedFile

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def pdf_upload(name: str = "fax.pdf", content: bytes = PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def intake_data(clinic, physician=None, **overrides):
    data = {
        "source_type": "physician",
        "physician": physician.pk if physician else "",
        "patient_first_name": "Pat",
        "patient_last_name": "Example",
        "patient_birth_date": "05/01/1970",
        "patient_phone": "303-555-0100",
        "received_at": "2026-11-24T09:30",
        "channel": "fax",
        "clinic": clinic.pk,
        "priority": "routine",
        "diagnosis_codes": "m5450, M17.11",
    }
    return {**data, **overrides}


def details_data(referral, **overrides):
    """The referral page's details form as loaded, with `overrides` typed in."""
    data = {
        "patient_first_name": referral.patient_first_name,
        "patient_last_name": referral.patient_last_name,
        "patient_birth_date": referral.patient_birth_date.strftime("%m/%d/%Y"),
        "patient_phone": referral.patient_phone,
        "patient_email": referral.patient_email,
        "clinic": referral.clinic_id,
        "priority": referral.priority,
        "version": referral.version,
    }
    return {**data, **overrides}
