"""A billing import job's claim and lease: a dead worker's job is taken over, never applied twice or lost."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from billing import importing
from billing.importing import (
    billing_import_map,
    billing_import_preview,
    billing_import_run,
    billing_import_upload,
    billing_imports_sweep,
)
from billing.mapping import guess_mapping
from billing.models import BillingImport, Visit
from clinics.jobs import Requeued
from physicians import import_jobs
from physicians.models import ImportStatus

from .imports import report

NOW = datetime(2026, 12, 3, 18, tzinfo=UTC)
# Every report below is of one visit of Ana Núñez (tests/billing/conftest.py).
pytestmark = pytest.mark.usefixtures("patient")
ONE_VISIT = 'A100,"Núñez, Ana",05/01/1970,11/03/2026,97110,120.00,Aetna,,'


@pytest.fixture(autouse=True)
def _pinned_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def uploaded(summit, summit_admin, *, mapped: bool = True, **fields) -> BillingImport:
    """An uploaded report of one visit, its mapping confirmed (and so queued) unless `mapped` is False."""
    job = billing_import_upload(
        organization=summit,
        user=summit_admin.user,
        kind="visits",
        uploaded_file=SimpleUploadedFile("charges.csv", report(ONE_VISIT)),
    )
    if mapped and not job.mapped:
        header = billing_import_preview(job=job).header
        job = billing_import_map(job=job, user=summit_admin.user, mapping=guess_mapping("visits", header))
    BillingImport.objects.filter(pk=job.pk).update(mapped=mapped, **fields)
    job.refresh_from_db()
    return job


def test_a_job_whose_worker_died_is_taken_over_and_its_visits_written_once(summit, summit_admin):
    job = uploaded(
        summit,
        summit_admin,
        status=ImportStatus.RUNNING,
        claim_token="a-run-that-died",
        claimed_until=NOW - timedelta(seconds=1),
        attempts=1,
    )

    job = billing_import_run(job=job)

    assert (job.status, job.created_count, job.attempts, job.claim_token) == (
        ImportStatus.SUCCEEDED,
        1,
        2,
        "",
    )
    assert Visit.objects.count() == 1
    assert billing_import_run(job=job).status == ImportStatus.SUCCEEDED
    assert Visit.objects.count() == 1


def test_a_job_whose_lease_still_runs_is_left_to_its_run(summit, summit_admin):
    job = uploaded(
        summit,
        summit_admin,
        status=ImportStatus.RUNNING,
        claim_token="a-live-run",
        claimed_until=NOW + timedelta(minutes=1),
        attempts=1,
    )

    job = billing_import_run(job=job)

    assert (job.status, job.claim_token, job.attempts) == (ImportStatus.RUNNING, "a-live-run", 1)
    assert not Visit.objects.exists()


def test_a_run_that_lost_its_claim_while_applying_leaves_nothing(summit, summit_admin, monkeypatch):
    job = uploaded(summit, summit_admin)
    remember = importing.referral_account_numbers_remember

    def taken_over_meanwhile(**arguments):
        # The last write of the apply's transaction; another run claims the job just before it.
        BillingImport.objects.filter(pk=job.pk).update(claim_token="another-run")
        remember(**arguments)

    monkeypatch.setattr(importing, "referral_account_numbers_remember", taken_over_meanwhile)

    job = billing_import_run(job=job)

    # The visits and the outcome are one transaction (and here the takeover with them): no outcome, no visits.
    assert (job.status, job.finished_at, job.created_count) == (ImportStatus.RUNNING, None, 0)
    assert not Visit.objects.exists()


def test_the_sweep_queues_again_what_a_dead_worker_or_a_lost_message_left(summit, summit_admin, monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr("billing.tasks.import_billing_file.delay", sent.append)
    lapsed = NOW - timedelta(seconds=1)
    long_ago = NOW - import_jobs.IMPORT_LEASE
    waiting_long = uploaded(summit, summit_admin, created_at=long_ago)
    awaiting_mapping = uploaded(summit, summit_admin, mapped=False, created_at=long_ago)
    dead = uploaded(summit, summit_admin, status=ImportStatus.RUNNING, claimed_until=lapsed, attempts=1)
    live = uploaded(
        summit, summit_admin, status=ImportStatus.RUNNING, claimed_until=NOW + timedelta(minutes=1)
    )
    spent = uploaded(
        summit,
        summit_admin,
        status=ImportStatus.RUNNING,
        claimed_until=lapsed,
        attempts=import_jobs.IMPORT_MAX_ATTEMPTS,
    )

    assert billing_imports_sweep() == Requeued(requeued=2, given_up=1)

    assert sorted(sent) == sorted([waiting_long.pk, dead.pk])
    statuses = dict(BillingImport.objects.values_list("pk", "status"))
    assert (statuses[awaiting_mapping.pk], statuses[live.pk]) == (ImportStatus.QUEUED, ImportStatus.RUNNING)
    spent.refresh_from_db()
    assert spent.status == ImportStatus.FAILED
    assert spent.error.startswith("The import was started 3 times and never finished; nothing was changed.")


def test_the_sweep_runs_every_five_minutes(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-billing-imports"]
    assert (entry["task"], entry["schedule"]) == ("billing.sweep_imports", timedelta(minutes=5))


def test_the_commands_import_holds_its_claim_and_gives_it_back_when_done(summit, tmp_path):
    path = tmp_path / "charges.csv"
    path.write_bytes(report(ONE_VISIT))

    call_command("import_billing", str(path), organization="summit", kind="visits")

    job = BillingImport.objects.get()
    assert (job.status, job.attempts, job.claim_token, job.claimed_until) == (
        ImportStatus.SUCCEEDED,
        1,
        "",
        None,
    )
    assert job.started_at == job.finished_at == timezone.now()


def test_a_job_started_again_after_its_worker_stopped_says_so(admin_client, summit, summit_admin):
    job = uploaded(summit, summit_admin, status=ImportStatus.RUNNING, attempts=2)

    page = admin_client.get(reverse("billing:import_detail", args=[job.pk])).content.decode()

    assert "started again (run 2): the worker stopped before it finished, and nothing had changed" in page


def test_a_command_line_import_that_stopped_midway_is_failed_by_the_worker_it_is_handed_to(summit, tmp_path):
    path = tmp_path / "charges.csv"
    path.write_bytes(report(ONE_VISIT))
    call_command("import_billing", str(path), organization="summit", kind="visits")
    stopped = BillingImport.objects.get()
    BillingImport.objects.filter(pk=stopped.pk).update(
        status=ImportStatus.RUNNING, claimed_until=NOW - timedelta(seconds=1), attempts=1
    )

    job = billing_import_run(job=stopped)

    assert job.status == ImportStatus.FAILED
    assert job.error.startswith("This import ran from the command line and stopped before it finished")


def test_the_command_fails_when_another_run_took_its_import_over(summit, tmp_path, monkeypatch):
    path = tmp_path / "charges.csv"
    path.write_bytes(report(ONE_VISIT))
    remember = importing.referral_account_numbers_remember

    def taken_over_meanwhile(**arguments):
        BillingImport.objects.update(claim_token="another-run")
        remember(**arguments)

    monkeypatch.setattr(importing, "referral_account_numbers_remember", taken_over_meanwhile)

    with pytest.raises(CommandError, match="was taken over by another run before it finished"):
        call_command("import_billing", str(path), organization="summit", kind="visits")
    assert not Visit.objects.exists()
