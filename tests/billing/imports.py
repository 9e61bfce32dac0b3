"""Reports as EMRs export them, and a helper that imports one the way the upload page and the worker do."""

from django.core.files.uploadedfile import SimpleUploadedFile

from billing.importing import (
    billing_import_map,
    billing_import_preview,
    billing_import_run,
    billing_import_upload,
)
from billing.mapping import guess_mapping
from billing.models import BillingImport

VISITS_HEADER = "Acct #,Patient,DOB,DOS,CPT Codes,Charge,Primary Insurance,Location,Rendering Provider"


def report(
    *lines: str, header: str = VISITS_HEADER, newline: str = "\r\n", bom: bool = True, encoding="utf-8"
) -> bytes:
    text = newline.join([header, *lines]) + newline
    return (b"\xef\xbb\xbf" if bom and encoding == "utf-8" else b"") + text.encode(encoding)


def import_report(
    organization, user, content: bytes, *, kind: str = "visits", name: str = "charges.csv"
) -> BillingImport:
    """Uploads `content`, confirms the guessed mapping if its shape is new, and runs the import."""
    job = billing_import_upload(
        organization=organization, user=user, kind=kind, uploaded_file=SimpleUploadedFile(name, content)
    )
    if not job.mapped:
        header = billing_import_preview(job=job).header
        job = billing_import_map(job=job, user=user, mapping=guess_mapping(kind, header))
    return billing_import_run(job=job)
