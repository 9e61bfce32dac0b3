"""A referral's one document from before moves to ReferralDocument, named by its content."""

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

BEFORE = [("referrals", "0005_referral_documents_and_patient_corrections")]
AFTER = [("referrals", "0007_remove_referral_document_field")]


def test_a_pdf_stored_as_hta_becomes_a_pdf_document_of_its_referral(scratch_database, media):
    apps = scratch_database.migrate_to(BEFORE)
    summit = apps.get_model("clinics", "Organization").objects.create(name="Summit", slug="summit")
    clinic = apps.get_model("clinics", "Clinic").objects.create(organization_id=summit.pk, name="Downtown")
    Referral = apps.get_model("referrals", "Referral")
    old = Referral(
        organization_id=summit.pk,
        clinic_id=clinic.pk,
        source_type="direct_access",
        patient_first_name="Pat",
        patient_last_name="Example",
        patient_birth_date="1970-05-01",
        patient_phone="303-555-0100",
        received_at="2026-11-24T16:30:00Z",
        document=default_storage.save(f"referrals/{summit.pk}/order.hta", ContentFile(b"%PDF-1.7\n")),
        document_content_type="application/pdf",
    )
    old.save()
    missing = Referral.objects.create(
        **{field: getattr(old, field) for field in ("organization_id", "clinic_id", "source_type")},
        patient_first_name="Lee",
        patient_last_name="Gone",
        patient_birth_date="1980-01-01",
        patient_phone="303-555-0101",
        received_at="2026-11-24T16:30:00Z",
        document="referrals/1/missing.pdf",
        document_content_type="application/pdf",
    )

    apps = scratch_database.migrate_to(AFTER)

    document = apps.get_model("referrals", "ReferralDocument").objects.get()
    assert (document.referral_id, document.content_type, document.size) == (old.pk, "application/pdf", 9)
    assert document.file.name.endswith(".pdf")
    assert document.file.read() == b"%PDF-1.7\n"
    assert not apps.get_model("referrals", "ReferralDocument").objects.filter(referral_id=missing.pk)
    assert [path.suffix for path in media.rglob("*.*")] == [".pdf"]
