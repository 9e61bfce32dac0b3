from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from physicians.models import ImportStatus, NppesImport, Physician

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "nppes_sample.csv"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.CELERY_TASK_ALWAYS_EAGER = True


def test_admin_uploads_an_nppes_file_and_follows_its_progress(
    admin_client, summit, media, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("npidata.csv", SAMPLE.read_bytes(), content_type="text/csv")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("physicians:import_list"), {"file": upload, "states": "co, ut", "taxonomies": ""}
        )

    job = NppesImport.objects.get()
    assert response.url == reverse("physicians:import_detail", args=[job.pk])
    assert (job.status, job.states) == (ImportStatus.SUCCEEDED, ["CO", "UT"])
    assert Physician.objects.filter(organization=summit).count() == job.created_count > 0
    page = admin_client.get(response.url).content.decode()
    assert "physicians added" in page
    assert "Refused rows" in page
    progress = admin_client.get(response.url, headers={"HX-Request": "true"})
    assert progress.templates[0].name == "physicians/_import_progress.html"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"states": "Colorado"}, "states", "Use two-letter state codes"),
        ({"taxonomies": "207X-00000X"}, "taxonomies", "Taxonomy codes are up to 10 letters and digits"),
    ],
)
def test_bad_import_options_are_explained(admin_client, media, data, field, message):
    upload = SimpleUploadedFile("npidata.csv", b"NPI\n", content_type="text/csv")

    response = admin_client.post(reverse("physicians:import_list"), {"file": upload, **data})

    assert message in " ".join(response.context["form"].errors[field])
    assert not NppesImport.objects.exists()


def test_a_zip_is_refused_with_a_hint(admin_client, media):
    upload = SimpleUploadedFile("NPPES_Data_Dissemination.zip", b"PK\x03\x04", content_type="application/zip")

    response = admin_client.post(reverse("physicians:import_list"), {"file": upload})

    assert "unzip the NPPES download first" in " ".join(response.context["form"].errors["file"])


def test_progress_polling_does_not_keep_the_session_alive(admin_client, summit, media):
    job = NppesImport.objects.create(organization=summit, original_name="x.csv", file="x.csv", bytes_total=10)

    page = admin_client.get(reverse("physicians:import_detail", args=[job.pk])).content.decode()

    assert 'hx-trigger="every 2s"' in page
    assert "X-Rapport-Background" in page


def test_a_job_started_again_after_its_worker_stopped_says_so(admin_client, summit, media):
    running = {
        "organization": summit,
        "original_name": "x.csv",
        "file": "x.csv",
        "status": ImportStatus.RUNNING,
    }
    first_run = NppesImport.objects.create(**running, attempts=1)
    second_run = NppesImport.objects.create(**running, attempts=2)

    def page(job):
        return admin_client.get(reverse("physicians:import_detail", args=[job.pk])).content.decode()

    assert "started again" not in page(first_run)
    assert "started again (run 2): the worker stopped before it finished, and nothing had changed" in page(
        second_run
    )
