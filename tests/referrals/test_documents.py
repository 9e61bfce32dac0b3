"""Referral documents: checked and named by their content, several per referral, never lost by a form."""

from datetime import date, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinics.models import Role
from referrals.attachments import SIGNATURES, document_path, sniff
from referrals.models import PatientCorrection, PendingDocument, Referral, ReferralDocument
from referrals.selectors import referral_settings_get
from referrals.services import (
    ReferralIntake,
    pending_document_resolve,
    pending_documents_sweep,
    referral_create,
)
from referrals.tasks import sweep_pending_documents
from tests.audit.queries import access_event_queries

from ..factories import ClinicFactory, PhysicianFactory, ReferralDocumentFactory, ReferralFactory
from .intake import PDF, PNG, intake_data, pdf_upload

pytestmark = pytest.mark.usefixtures("media")


def download(client, document):
    response = client.get(reverse("referrals:document", args=[document.referral_id, document.pk]))
    return response, b"".join(response.streaming_content)


def kept_key(response) -> str:
    return str(response.context["form"].kept.key)


# Intake: a document attached to a form that comes back is kept.


@pytest.fixture
def earlier_referral(desk, summit):
    """The same patient referred ten days ago: intake asks before saving another."""
    return ReferralFactory(
        organization=summit,
        clinic=desk.clinic,
        patient_last_name="Example",
        patient_birth_date=date(1970, 5, 1),
        received_at=timezone.now() - timedelta(days=10),
    )


@pytest.fixture
def today_intake(desk, summit):
    return intake_data(
        desk.clinic,
        PhysicianFactory(organization=summit),
        received_at=timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
    )


def test_a_document_survives_the_duplicate_warning_and_is_attached_on_confirming(
    desk, earlier_referral, today_intake
):
    warned = desk.post(reverse("referrals:intake"), {**today_intake, "document": pdf_upload("fax.pdf")})

    page = warned.content.decode()
    assert "This patient was referred on" in page
    assert "<strong>fax.pdf</strong> attached — kept" in page
    assert Referral.objects.count() == 1

    desk.post(
        reverse("referrals:intake"),
        {**today_intake, "confirm_duplicate": "on", "kept_document": kept_key(warned)},
    )

    referral = Referral.objects.latest("pk")
    assert referral != earlier_referral
    document = referral.documents.get()
    assert (document.content_type, document.size) == ("application/pdf", len(PDF))
    assert document.added_by == desk.user
    assert download(desk, document)[1] == PDF
    assert not PendingDocument.objects.exists()


def test_a_document_survives_a_validation_error_on_another_field(desk, summit):
    data = intake_data(desk.clinic, PhysicianFactory(organization=summit))

    refused = desk.post(
        reverse("referrals:intake"), {**data, "diagnosis_codes": "12345", "document": pdf_upload("order.pdf")}
    )
    assert "is not an ICD-10-CM code" in " ".join(refused.context["form"].errors["diagnosis_codes"])
    assert "<strong>order.pdf</strong> attached — kept" in refused.content.decode()

    # Sent again with another error, then right: the same document all along.
    again = desk.post(
        reverse("referrals:intake"), {**data, "patient_phone": "", "kept_document": kept_key(refused)}
    )
    assert "<strong>order.pdf</strong> attached — kept" in again.content.decode()
    desk.post(reverse("referrals:intake"), {**data, "kept_document": kept_key(again)})

    assert download(desk, Referral.objects.get().documents.get())[1] == PDF


def test_a_document_refused_by_its_content_is_not_kept(desk, summit):
    executable = pdf_upload("fax.pdf", b"MZ\x90\x00" + b"\x00" * 60)

    refused = desk.post(
        reverse("referrals:intake"),
        {**intake_data(desk.clinic, PhysicianFactory(organization=summit)), "document": executable},
    )

    assert "Attach the referral as a PDF or an image" in " ".join(refused.context["form"].errors["document"])
    assert refused.context["form"].kept is None
    assert not PendingDocument.objects.exists()
    assert not Referral.objects.exists()


def test_the_kept_document_can_be_replaced_or_removed_and_its_file_goes(
    desk, summit, media, django_capture_on_commit_callbacks
):
    data = intake_data(desk.clinic, PhysicianFactory(organization=summit), diagnosis_codes="12345")
    first = desk.post(reverse("referrals:intake"), {**data, "document": pdf_upload("first.pdf")})

    with django_capture_on_commit_callbacks(execute=True):
        replaced = desk.post(
            reverse("referrals:intake"),
            {**data, "kept_document": kept_key(first), "document": pdf_upload("second.png", PNG)},
        )
    assert "<strong>second.png</strong> attached — kept" in replaced.content.decode()
    assert PendingDocument.objects.get().content_type == "image/png"
    assert [path.suffix for path in media.rglob("*.*")] == [".png"]

    with django_capture_on_commit_callbacks(execute=True):
        removed = desk.post(
            reverse("referrals:intake"),
            {
                **data,
                "diagnosis_codes": "",
                "kept_document": kept_key(replaced),
                "remove_kept_document": "on",
            },
        )

    assert removed.status_code == 302
    assert not Referral.objects.get().documents.exists()
    assert not PendingDocument.objects.exists()
    assert list(media.rglob("*.*")) == []


@pytest.mark.parametrize("who", ["colleague", "outsider"])
def test_nobody_else_can_claim_a_kept_document(
    desk, summit, harbor, member_factory, client_factory, earlier_referral, today_intake, who
):
    warned = desk.post(reverse("referrals:intake"), {**today_intake, "document": pdf_upload()})
    organization = summit if who == "colleague" else harbor
    clinic = desk.clinic if who == "colleague" else ClinicFactory(organization=harbor)
    other = client_factory()
    other.force_login(member_factory(organization, Role.FRONT_DESK, home_clinic=clinic).user)
    data = intake_data(
        clinic,
        PhysicianFactory(organization=organization),
        patient_last_name="Other",
        kept_document=kept_key(warned),
    )

    response = other.post(reverse("referrals:intake"), data)

    assert "is no longer kept" in " ".join(response.context["form"].errors["document"])
    assert Referral.objects.count() == 1
    assert not ReferralDocument.objects.exists()
    assert PendingDocument.objects.get().uploaded_by == desk.user


def test_a_kept_document_that_is_gone_is_asked_for_again_and_nothing_is_saved(
    desk, earlier_referral, today_intake
):
    warned = desk.post(reverse("referrals:intake"), {**today_intake, "document": pdf_upload()})
    PendingDocument.objects.all().delete()

    response = desk.post(
        reverse("referrals:intake"),
        {**today_intake, "confirm_duplicate": "on", "kept_document": kept_key(warned)},
    )

    assert "is no longer kept" in " ".join(response.context["form"].errors["document"])
    assert Referral.objects.count() == 1


def test_a_kept_document_is_claimed_once(desk, summit):
    pending = pending_document_resolve(
        organization=summit, user=desk.user, upload=pdf_upload(), key=None, remove=False
    )
    fields = ReferralIntake(
        clinic=desk.clinic,
        physician=PhysicianFactory(organization=summit),
        patient_first_name="Pat",
        patient_last_name="Example",
        patient_birth_date=date(1970, 5, 1),
        patient_phone="303-555-0100",
        received_at=timezone.now(),
    )
    referral_create(organization=summit, user=desk.user, fields=fields, pending_document=pending)

    with pytest.raises(ValidationError, match="no longer kept"):
        referral_create(organization=summit, user=desk.user, fields=fields, pending_document=pending)

    assert Referral.objects.count() == 1
    assert ReferralDocument.objects.count() == 1


def test_documents_kept_longer_than_a_session_are_swept_with_their_files(
    desk, summit, media, settings, django_capture_on_commit_callbacks
):
    def keep():
        return pending_document_resolve(
            organization=summit, user=desk.user, upload=pdf_upload(), key=None, remove=False
        )

    start = timezone.now()
    with time_machine.travel(start, tick=False):
        abandoned = keep()
    with time_machine.travel(start + timedelta(seconds=settings.SESSION_ABSOLUTE_LIFETIME - 60), tick=False):
        recent = keep()

    with time_machine.travel(start + timedelta(seconds=settings.SESSION_ABSOLUTE_LIFETIME + 60), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            sweep_pending_documents()
        assert pending_documents_sweep() == 0

    assert list(PendingDocument.objects.all()) == [recent]
    assert sorted(path.name for path in media.rglob("*.*")) == [recent.file.name.rsplit("/", 1)[1]]
    assert abandoned.file.name != recent.file.name


# The stored extension, Content-Type and download name come from the content alone.


BAD_NAMES = ["order.hta", "order.cmd", "order.html", "order.pdf.exe", "order", "Example Pat.HTML", ".hta"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_pdf_is_stored_and_downloaded_as_a_pdf_whatever_its_name(desk, summit, name):
    desk.post(
        reverse("referrals:intake"),
        {**intake_data(desk.clinic, PhysicianFactory(organization=summit)), "document": pdf_upload(name)},
    )

    document = Referral.objects.get().documents.get()
    response, content = download(desk, document)

    assert document.file.name.endswith(".pdf")
    assert "order" not in document.file.name
    assert "Example" not in document.file.name
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="referral-{document.referral.number}-document-{document.pk}.pdf"'
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert content == PDF


@pytest.mark.parametrize(("signature", "kind"), SIGNATURES)
def test_the_stored_extension_follows_the_sniffed_type_alone(signature, kind):
    upload = pdf_upload("scan.html", signature + b"\x00" * 16)

    assert sniff(upload) == kind
    document = ReferralDocument(organization_id=1, content_type=kind.content_type)
    assert document_path(document, "scan.html").endswith(f".{kind.extension}")


def test_an_unknown_stored_type_downloads_as_bytes(desk, summit):
    document = ReferralDocumentFactory(organization=summit, content_type="text/html")

    response, _ = download(desk, document)

    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].endswith(f'-document-{document.pk}.bin"')


def test_a_document_is_served_only_to_its_organization_and_with_its_referral(
    desk, summit, harbor, member_factory, client_factory
):
    document = ReferralDocumentFactory(organization=summit)
    another_referral = ReferralFactory(organization=summit)
    outsider = client_factory()
    outsider.force_login(member_factory(harbor, Role.ADMIN).user)

    url = reverse("referrals:document", args=[document.referral_id, document.pk])

    assert download(desk, document)[0].status_code == 200
    assert outsider.get(url).status_code == 404
    assert desk.get(reverse("referrals:document", args=[another_referral.pk, document.pk])).status_code == 404


# Adding a document after intake: a page faxed later.


def test_a_page_faxed_later_is_added_to_the_referral(desk, summit):
    referral = ReferralFactory(organization=summit)
    ReferralDocumentFactory(organization=summit, referral=referral)

    response = desk.post(
        reverse("referrals:document_add", args=[referral.pk]),
        {"document": pdf_upload("page 2.hta", PNG)},
        follow=True,
    )

    assert "Document added." in response.content.decode()
    first, second = referral.documents.all()
    assert (second.content_type, second.added_by) == ("image/png", desk.user)
    assert second.file.name.endswith(".png")
    page = response.content.decode()
    for document in (first, second):
        assert reverse("referrals:document", args=[referral.pk, document.pk]) in page
    assert download(desk, second)[1] == PNG


def test_adding_a_document_checks_its_content_and_saves_nothing_else(desk, summit):
    referral = ReferralFactory(organization=summit)

    response = desk.post(
        reverse("referrals:document_add", args=[referral.pk]),
        {"document": pdf_upload("page2.pdf", b"<html><script>alert(1)</script>")},
        follow=True,
    )
    missing = desk.post(reverse("referrals:document_add", args=[referral.pk]), {}, follow=True)

    assert "Attach the referral as a PDF or an image" in response.content.decode()
    assert "This field is required." in missing.content.decode()
    assert not referral.documents.exists()


def test_the_referral_page_runs_constant_queries_whatever_its_documents_and_corrections(desk, summit):
    def queries_for(count: int) -> int:
        referral = ReferralFactory(organization=summit)
        for _ in range(count):
            ReferralDocumentFactory(organization=summit, referral=referral, added_by=desk.user)
            PatientCorrection.objects.create(
                organization=summit,
                referral=referral,
                fields=["patient_phone"],
                corrected_by=desk.user,
                corrected_at=timezone.now(),
            )
        with CaptureQueriesContext(connection) as queries:
            page = desk.get(reverse("referrals:detail", args=[referral.pk])).content.decode()
        assert page.count("Corrected the patient phone") == count
        assert page.count("/documents/") == count + 1  # each download, and the add form
        return len(queries)

    referral_settings_get(organization=summit)  # made by the organization's first page that reads it

    # 18: the referral (its attempts counted in the same query), its history (moves, appointments,
    # corrections), documents, attempts, plans and the rules, and the forms' lists of clinics,
    # payers and therapists; 3 for the visits and payments panel (visits, payments, corrections);
    # 4 for the care and outcomes panel (notes, scores, the NPS answer, the survey link); 1 for
    # the letters panel (the letters about it).
    # 3 for the change history (the referral's rows, its plans' and scores' rows, the people named).
    # And the access event.
    assert queries_for(1) == queries_for(10) <= 29 + access_event_queries()
