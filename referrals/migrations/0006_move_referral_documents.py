"""Moves each referral's one document to ReferralDocument, under a name its content decides.

Until now the stored extension came from the uploader's file name (a PDF
named order.hta was stored as .hta). Each file is copied to a random name
with the extension of the type sniffed at upload, and the old file is
deleted once the migration has committed. A document whose file is missing
has nothing to move.
"""

import uuid

from django.db import migrations, transaction

# The types referrals.attachments accepted; anything else is served as bytes.
EXTENSIONS = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/tiff": "tif",
    "image/gif": "gif",
}
UNKNOWN = "application/octet-stream"


def move_documents(apps, schema_editor):
    Referral = apps.get_model("referrals", "Referral")
    ReferralDocument = apps.get_model("referrals", "ReferralDocument")
    for referral in Referral.objects.exclude(document="").iterator():
        old = referral.document
        content_type = referral.document_content_type if referral.document_content_type in EXTENSIONS else UNKNOWN
        name = f"referrals/{referral.organization_id}/{uuid.uuid4().hex}.{EXTENSIONS.get(content_type, 'bin')}"
        try:
            with old.storage.open(old.name, "rb") as content:
                name = old.storage.save(name, content)
        except FileNotFoundError:
            continue
        transaction.on_commit(
            lambda storage=old.storage, old_name=old.name: storage.delete(old_name),
            using=schema_editor.connection.alias,
        )
        ReferralDocument.objects.create(
            organization_id=referral.organization_id,
            referral_id=referral.pk,
            file=name,
            content_type=content_type,
            size=old.storage.size(name),
            added_by_id=referral.created_by_id,
            added_at=referral.created_at,
        )


def restore_documents(apps, schema_editor):
    """Back to one document per referral: the first, as it is stored now."""
    Referral = apps.get_model("referrals", "Referral")
    ReferralDocument = apps.get_model("referrals", "ReferralDocument")
    for document in ReferralDocument.objects.order_by("-added_at", "-pk").iterator():
        Referral.objects.filter(pk=document.referral_id).update(
            document=document.file.name, document_content_type=document.content_type
        )


class Migration(migrations.Migration):
    dependencies = [
        ("referrals", "0005_referral_documents_and_patient_corrections"),
    ]

    operations = [
        migrations.RunPython(move_documents, restore_documents),
    ]
