"""The referral document (the faxed order): checked by its content, not its name."""

import uuid
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

# Leading bytes of each accepted format: a renamed executable or script has
# none of these, whatever its file name says.
SIGNATURES = [
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"II*\x00", "image/tiff", "tif"),
    (b"MM\x00*", "image/tiff", "tif"),
    (b"GIF87a", "image/gif", "gif"),
    (b"GIF89a", "image/gif", "gif"),
]
HEADER_BYTES = max(len(signature) for signature, _, _ in SIGNATURES)


def sniff(upload: UploadedFile) -> tuple[str, str]:
    """(content type, extension) of an accepted document; ValidationError otherwise."""
    limit = settings.REFERRAL_DOCUMENT_MAX_MB * 1024 * 1024
    if upload.size > limit:
        raise ValidationError(f"The document is larger than {settings.REFERRAL_DOCUMENT_MAX_MB} MB.")
    upload.seek(0)
    header = upload.read(HEADER_BYTES)
    upload.seek(0)
    for signature, content_type, extension in SIGNATURES:
        if header.startswith(signature):
            return content_type, extension
    raise ValidationError("Attach the referral as a PDF or an image (PNG, JPEG, TIFF or GIF).")


def document_path(referral, filename: str) -> str:
    """A random name: the uploader's file name may carry the patient's name."""
    extension = PurePath(filename).suffix.lower()
    return f"referrals/{referral.organization_id}/{uuid.uuid4().hex}{extension}"
