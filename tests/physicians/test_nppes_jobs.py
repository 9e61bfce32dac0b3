"""An NPPES import job's claim and lease: a dead worker's job is taken over, never imported twice or lost."""

import datetime
import signal
import subprocess
import threading
import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from clinics.jobs import JobLease, Requeued
from physicians import import_jobs
from physicians.models import ImportStatus, NppesImport, Physician
from physicians.nppes import jobs as nppes_jobs
from physicians.nppes import nppes_import_fail, nppes_import_run, nppes_imports_sweep

from ..celery_workers import purge_broker, start_logged_worker, stop_workers, wait_until
from .test_nppes_import import nppes_csv, person, queued_job, valid_npi


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def one_physician(summit, **fields) -> NppesImport:
    return queued_job(summit, nppes_csv([person(valid_npi(1))]), **fields)


def test_a_job_whose_worker_died_is_taken_over_once_its_lease_runs_out(summit, media):
    job = one_physician(
        summit,
        status=ImportStatus.RUNNING,
        claim_token="a-run-that-died",
        claimed_until=timezone.now() - datetime.timedelta(seconds=1),
        attempts=1,
    )

    job = nppes_import_run(job=job)

    assert (job.status, job.created_count, job.attempts) == (ImportStatus.SUCCEEDED, 1, 2)
    assert (job.claim_token, job.claimed_until) == ("", None)
    assert Physician.objects.filter(organization=summit).count() == 1


def test_a_job_whose_lease_still_runs_is_left_to_its_run(summit, media):
    job = one_physician(
        summit,
        status=ImportStatus.RUNNING,
        claim_token="a-live-run",
        claimed_until=timezone.now() + datetime.timedelta(minutes=5),
        attempts=1,
    )

    job = nppes_import_run(job=job)

    assert (job.status, job.claim_token, job.attempts) == (ImportStatus.RUNNING, "a-live-run", 1)
    assert not Physician.objects.exists()


def test_a_run_that_lost_its_claim_while_applying_leaves_nothing(summit, media, monkeypatch):
    job = one_physician(summit)
    apply = nppes_jobs._apply

    def taken_over_meanwhile(organization, rows, **options):
        NppesImport.objects.filter(pk=job.pk).update(claim_token="another-run")
        apply(organization, rows, **options)

    monkeypatch.setattr(nppes_jobs, "_apply", taken_over_meanwhile)

    job = nppes_import_run(job=job)

    # The rows and the outcome are one transaction: the other run's claim stands, and nothing was imported.
    assert (job.status, job.claim_token, job.created_count) == (ImportStatus.RUNNING, "another-run", 0)
    assert not Physician.objects.exists()


def test_a_run_that_lost_its_claim_while_reading_stops_there(summit, media, monkeypatch):
    job = one_physician(summit)
    file_import = nppes_jobs.nppes_file_import

    def taken_over_meanwhile(**arguments):
        NppesImport.objects.filter(pk=job.pk).update(claim_token="another-run")
        return file_import(**arguments)

    monkeypatch.setattr(nppes_jobs, "nppes_file_import", taken_over_meanwhile)

    job = nppes_import_run(job=job)

    assert (job.status, job.claim_token, job.rows_read) == (ImportStatus.RUNNING, "another-run", 0)
    assert not Physician.objects.exists()


def test_the_sweep_queues_again_what_a_dead_worker_or_a_lost_message_left(summit, media, monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr("physicians.tasks.import_nppes_file.delay", sent.append)
    now = timezone.now()
    lapsed = now - datetime.timedelta(seconds=1)
    waiting_long = one_physician(summit)
    NppesImport.objects.filter(pk=waiting_long.pk).update(created_at=now - import_jobs.IMPORT_LEASE)
    waiting_new = one_physician(summit)
    dead = one_physician(summit, status=ImportStatus.RUNNING, claimed_until=lapsed, attempts=1)
    live = one_physician(
        summit, status=ImportStatus.RUNNING, claimed_until=now + datetime.timedelta(minutes=1)
    )
    spent = one_physician(
        summit, status=ImportStatus.RUNNING, claimed_until=lapsed, attempts=import_jobs.IMPORT_MAX_ATTEMPTS
    )
    done = one_physician(summit, status=ImportStatus.SUCCEEDED, claimed_until=lapsed)

    assert nppes_imports_sweep(now=now) == Requeued(requeued=2, given_up=1)

    assert sorted(sent) == sorted([waiting_long.pk, dead.pk])
    statuses = dict(NppesImport.objects.values_list("pk", "status"))
    assert statuses[spent.pk] == ImportStatus.FAILED
    assert {statuses[job.pk] for job in (waiting_new, live)} == {ImportStatus.QUEUED, ImportStatus.RUNNING}
    assert statuses[done.pk] == ImportStatus.SUCCEEDED
    spent.refresh_from_db()
    assert spent.error.startswith("The import was started 3 times and never finished; nothing was changed.")


def test_the_sweep_runs_every_five_minutes(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-nppes-imports"]
    assert (entry["task"], entry["schedule"]) == (
        "physicians.sweep_nppes_imports",
        datetime.timedelta(minutes=5),
    )


def test_an_error_gives_the_claim_back_without_using_up_a_run(summit, media, monkeypatch):
    def broken(**arguments):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(nppes_jobs, "nppes_file_import", broken)
    job = one_physician(summit)

    for _ in range(import_jobs.IMPORT_MAX_ATTEMPTS + 1):
        with pytest.raises(RuntimeError):
            nppes_import_run(job=job)

    job.refresh_from_db()
    # The task's retries bound errors; the runs a job may take count the workers that died.
    assert (job.status, job.attempts, job.claim_token) == (ImportStatus.QUEUED, 0, "")


def test_the_error_that_stopped_a_run_is_reported_even_if_the_claim_cannot_be_given_back(
    summit, media, monkeypatch
):
    def broken(**arguments):
        raise RuntimeError("disk on fire")

    def database_gone(self, job):
        raise ConnectionError("server closed the connection")

    monkeypatch.setattr(nppes_jobs, "nppes_file_import", broken)
    monkeypatch.setattr(JobLease, "release", database_gone)

    with pytest.raises(RuntimeError, match="disk on fire"):
        nppes_import_run(job=one_physician(summit))


def test_a_task_that_gave_up_leaves_a_run_that_took_the_job_over_to_finish(summit, media):
    now = timezone.now()
    taken_over = one_physician(
        summit,
        status=ImportStatus.RUNNING,
        claim_token="a-live-run",
        claimed_until=now + import_jobs.IMPORT_LEASE,
    )
    released = one_physician(summit)

    for job in (taken_over, released):
        nppes_import_fail(job_id=job.pk, error="The import stopped because of an unexpected error")

    taken_over.refresh_from_db()
    released.refresh_from_db()
    assert (taken_over.status, taken_over.claim_token) == (ImportStatus.RUNNING, "a-live-run")
    assert released.status == ImportStatus.FAILED


def test_the_sweep_fails_a_job_the_workers_never_got_to_within_a_day_rather_than_run_it_late(
    summit, media, monkeypatch
):
    sent: list[int] = []
    monkeypatch.setattr("physicians.tasks.import_nppes_file.delay", sent.append)
    now = timezone.now()
    yesterdays = one_physician(summit)
    NppesImport.objects.filter(pk=yesterdays.pk).update(created_at=now - import_jobs.IMPORT_STALE_AFTER)

    assert nppes_imports_sweep(now=now) == Requeued(requeued=0, given_up=1)

    yesterdays.refresh_from_db()
    assert (yesterdays.status, sent) == (ImportStatus.FAILED, [])
    assert yesterdays.error.startswith("The import waited more than a day for a worker and was not run")


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_job_whose_rows_are_being_written_is_neither_taken_over_nor_swept_however_old_its_lease(
    summit, media, monkeypatch
):
    """The run applying the rows holds the job's row locked; its lease, renewed unseen, looks old."""
    sent: list[int] = []
    monkeypatch.setattr("physicians.tasks.import_nppes_file.delay", sent.append)
    lapsed = timezone.now() - datetime.timedelta(minutes=1)
    job = one_physician(
        summit, status=ImportStatus.RUNNING, claim_token="a-run-writing", claimed_until=lapsed, attempts=1
    )
    holding, done = threading.Event(), threading.Event()

    def writing() -> None:
        try:
            with transaction.atomic():
                nppes_jobs.JOBS.hold(job)
                holding.set()
                done.wait(30)
        finally:
            connection.close()

    writer = threading.Thread(target=writing)
    writer.start()
    try:
        assert holding.wait(30)
        assert (nppes_import_run(job=job).claim_token, nppes_imports_sweep().requeued) == ("a-run-writing", 0)
    finally:
        done.set()
        writer.join()
    assert sent == []
    # Written and gone: the lapsed lease counts again.
    assert (nppes_imports_sweep().requeued, sent) == (1, [job.pk])


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_import_imports_nothing_and_the_next_imports_the_file_once(summit, tmp_path):
    """A real worker, SIGKILLed while it imports; the sweep hands the job to a second one."""
    rows = 12_000
    content = nppes_csv(
        [person(valid_npi(n), last=f"SMITH{n}", line1=f"{n} LARIMER ST") for n in range(1, rows + 1)]
    )
    job = NppesImport.objects.create(
        organization=summit,
        file=default_storage.save(f"imports/nppes/test-{uuid.uuid4().hex}.csv", ContentFile(content)),
        original_name="npidata.csv",
        bytes_total=len(content),
    )
    purge_broker()
    started: list = []

    def worker() -> subprocess.Popen:
        return start_logged_worker(log_folder=tmp_path, name="nppes-test", started=started)

    def current() -> NppesImport:
        return NppesImport.objects.get(pk=job.pk)

    try:
        first = worker()
        nppes_jobs._queue(job.pk)

        def importing() -> bool:
            status = current().status
            assert status != ImportStatus.SUCCEEDED, "the import finished before the worker could be killed"
            return status == ImportStatus.RUNNING

        wait_until(importing, worker=first, what="the import started")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=20)

        killed = current()
        assert (killed.status, killed.attempts) == (ImportStatus.RUNNING, 1)
        assert not Physician.objects.filter(organization=summit).exists()
        # Its lease would run out in minutes; the test does not wait for it.
        NppesImport.objects.filter(pk=job.pk).update(claimed_until=timezone.now())
        second = worker()
        assert nppes_imports_sweep().requeued == 1

        wait_until(lambda: current().is_finished, worker=second, what="the import finished")
        finished = current()
        assert (finished.status, finished.attempts, finished.error) == (ImportStatus.SUCCEEDED, 2, "")
        assert (finished.rows_read, finished.created_count) == (rows, rows)
        assert Physician.objects.filter(organization=summit).count() == rows
    finally:
        stop_workers(started)
        default_storage.delete(job.file.name)


BEFORE_CLAIMS = [("physicians", "0006_change_history")]


def migrate(targets=None) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_an_import_left_running_before_the_upgrade_is_failed_not_run_late(summit):
    migrate(BEFORE_CLAIMS)
    try:
        old = MigrationExecutor(connection).loader.project_state(BEFORE_CLAIMS[0]).apps
        jobs = old.get_model("physicians", "NppesImport").objects
        running = jobs.create(
            organization_id=summit.pk, file="a.csv", original_name="a.csv", status="running"
        )
        waiting = jobs.create(organization_id=summit.pk, file="b.csv", original_name="b.csv", status="queued")
        migrate()

        upgraded = {job.pk: job for job in NppesImport.objects.all()}
        assert upgraded[running.pk].status == ImportStatus.FAILED
        assert upgraded[running.pk].error.startswith(
            "The worker running this import stopped before it finished"
        )
        assert (upgraded[waiting.pk].status, upgraded[waiting.pk].error) == (ImportStatus.QUEUED, "")
    finally:
        migrate()
