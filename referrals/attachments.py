"""Referral documents (the faxed order, a page faxed later): typed and named by their content.

The uploader's file name is never used: it may carry the patient's name, and
its extension may say `.hta` or `.html` over a file that starts `%PDF-`. The
type is sniffed from the leading bytes, and `document_type` is the one place
that turns it into the stored extension, the Content-Type and the download
name.
"""

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File


@dataclass(frozen=True)
class DocumentType:
    content_type: str
    extension: str
    label: str


PDF = DocumentType("application/pdf", "pdf", "PDF")
PNG = DocumentType("image/png", "png", "PNG image")
JPEG = DocumentType("image/jpeg", "jpg", "JPEG image")
TIFF = DocumentType("image/tiff", "tif", "TIFF image")
GIF = DocumentType("image/gif", "gif", "GIF image")
# Leading bytes of each accepted format: a renamed executable or script has
# none of these, whatever its file name says.
SIGNATURES = [
    (b"%PDF-", PDF),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
]
HEADER_BYTES = max(len(signature) for signature, _ in SIGNATURES)
DOCUMENT_TYPES = {kind.content_type: kind for _, kind in SIGNATURES}
# Documents stored before their type was recorded, if any: served as bytes.
UNKNOWN = DocumentType("application/octet-stream", "bin", "file")
NOT_A_DOCUMENT = "Attach the referral as a PDF or an image (PNG, JPEG, TIFF or GIF)."


def document_max_bytes() -> int:
    return settings.REFERRAL_DOCUMENT_MAX_MB * 1024 * 1024


def document_type(content_type: str) -> DocumentType:
    """The stored extension, Content-Type and label of a sniffed content type: the only source of each."""
    return DOCUMENT_TYPES.get(content_type, UNKNOWN)


def sniff(upload: File) -> DocumentType:
    """The type of an accepted document, read from its first bytes; ValidationError otherwise."""
    if upload.size > document_max_bytes():
        raise ValidationError(
            f"The document is larger than {settings.REFERRAL_DOCUMENT_MAX_MB} MB; attach a smaller file."
        )
    upload.seek(0)
    header = upload.read(HEADER_BYTES)
    upload.seek(0)
    for signature, kind in SIGNATURES:
        if header.startswith(signature):
            return kind
    raise ValidationError(NOT_A_DOCUMENT)


def document_path(document, filename: str) -> str:
    """A random name with the sniffed type's extension; `filename`, the uploader's, is ignored."""
    extension = document_type(document.content_type).extension
    return f"referrals/{document.organization_id}/{uuid.uuid4().hex}.{extension}"


def download_name(*, referral_number: int, document_id: int, content_type: str) -> str:
    return f"referral-{referral_number}-document-{document_id}.{document_type(content_type).extension}"
