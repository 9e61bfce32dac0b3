"""Request bodies are capped before they are read: a clear form error or a 413, never a 500."""

import io

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadhandler import MemoryFileUploadHandler
from django.test import RequestFactory
from django.test.client import MULTIPART_CONTENT, encode_multipart
from django.urls import reverse

from clinics.models import Role
from config.uploads import UploadLimitHandler, refused_upload
from referrals.models import PendingDocument, Referral

from ..factories import PhysicianFactory, ReferralFactory
from ..test_url_isolation import iter_patterns
from .intake import PDF, intake_data, pdf_upload

pytestmark = pytest.mark.usefixtures("media")
MB = 1024 * 1024


class Unreadable(io.RawIOBase):
    def read(self, *args):
        raise AssertionError("The request body was read.")

    readline = read


@pytest.mark.parametrize(("url_name", "file_mb"), [("referrals:intake", 20), ("referrals:plan_create", 0)])
def test_a_body_larger_than_the_view_takes_is_refused_unread(
    client_factory, summit, member_factory, url_name, file_mb
):
    # CSRF checks on: the size is refused before the CSRF check reads the body.
    client = client_factory(enforce_csrf_checks=True)
    client.force_login(member_factory(summit, Role.FRONT_DESK).user)
    referral = ReferralFactory(organization=summit)
    url = reverse(url_name, args=[referral.pk] if url_name == "referrals:plan_create" else [])

    response = client.generic(
        "POST",
        url,
        content_type=MULTIPART_CONTENT,
        CONTENT_LENGTH=str(file_mb * MB + django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1),
        **{"wsgi.input": Unreadable()},
    )

    assert response.status_code == 413
    assert f"Files of up to {file_mb} MB can be sent here" in response.content.decode()
    assert list(Referral.objects.all()) == [referral]


def test_a_file_over_the_limit_is_skipped_and_the_form_says_so_keeping_the_rest(desk, summit, settings):
    settings.REFERRAL_DOCUMENT_MAX_MB = 1
    data = intake_data(desk.clinic, PhysicianFactory(organization=summit), diagnosis_codes="12345")
    kept = desk.post(reverse("referrals:intake"), {**data, "document": pdf_upload("first.pdf")})
    big = pdf_upload("scan.pdf", PDF + b"0" * MB)

    # The file first, so every other field comes after it in the body.
    response = desk.post(
        reverse("referrals:intake"),
        {"document": big, **data, "kept_document": str(kept.context["form"].kept.key)},
    )

    form = response.context["form"]
    assert response.status_code == 200
    assert "The file is larger than 1 MB; attach a smaller one." in form.errors["document"]
    assert form["patient_last_name"].value() == "Example"
    assert form.kept.original_name == "first.pdf"
    assert PendingDocument.objects.count() == 1
    assert not Referral.objects.exists()


def test_adding_a_document_over_the_limit_says_so(desk, summit, settings):
    settings.REFERRAL_DOCUMENT_MAX_MB = 1
    referral = ReferralFactory(organization=summit)

    response = desk.post(
        reverse("referrals:document_add", args=[referral.pk]),
        {"document": pdf_upload("page2.pdf", PDF + b"0" * MB)},
        follow=True,
    )

    assert "The file is larger than 1 MB; attach a smaller one." in response.content.decode()
    assert not referral.documents.exists()


@pytest.mark.parametrize(("limit", "arrives"), [(len(PDF), True), (len(PDF) - 1, False)])
def test_the_handler_passes_a_file_on_only_up_to_the_limit(limit, arrives):
    body = encode_multipart("BOUNDARY", {"document": pdf_upload(), "note": "after the file"})
    request = RequestFactory().generic(
        "POST", "/", body, content_type="multipart/form-data; boundary=BOUNDARY"
    )
    request.upload_max_bytes = limit
    request.upload_handlers = [UploadLimitHandler(request), MemoryFileUploadHandler(request)]

    assert request.POST["note"] == "after the file"
    assert ("document" in request.FILES) is arrives
    assert (refused_upload(request, "document") is None) is arrives


def test_only_the_views_that_take_files_declare_a_limit_and_each_is_a_setting():
    declared = {
        name: pattern.callback.upload_limit_setting
        for name, pattern in iter_patterns()
        if hasattr(pattern.callback, "upload_limit_setting")
    }

    assert declared == {
        "referrals:intake": "REFERRAL_DOCUMENT_MAX_MB",
        "referrals:document_add": "REFERRAL_DOCUMENT_MAX_MB",
        "physicians:import_list": "NPPES_UPLOAD_MAX_MB",
        "billing:import_list": "BILLING_UPLOAD_MAX_MB",
    }
    assert all(isinstance(getattr(django_settings, setting), int) for setting in declared.values())
