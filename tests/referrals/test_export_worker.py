"""The referral export through a real Celery worker on the configured broker: whole, also across a kill."""

import csv
import datetime
import io
import signal
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from referrals.exports.columns import storage_name
from referrals.exports.services import referral_export_request, referral_exports_sweep
from referrals.models import ExportStatus, Referral, ReferralExport
from referrals.services import referral_numbers_take

from ..celery_workers import purge_broker, start_logged_worker, stop_workers, wait_until
from ..factories import ClinicFactory, PhysicianFactory

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def workers(tmp_path):
    """Starts worker processes, each logging to a file of its own; stops those still running."""
    purge_broker()
    started: list = []
    yield lambda: start_logged_worker(log_folder=tmp_path, name="export-test", started=started)
    stop_workers(started)


@pytest.fixture
def exported_files():
    """The test database's export files land in the test settings' media folder: removed afterwards."""
    names = []
    yield names
    for name in names:
        default_storage.delete(name)


def make_referrals(organization, count: int) -> None:
    clinic = ClinicFactory(organization=organization)
    physician = PhysicianFactory(organization=organization)
    start = timezone.now() - datetime.timedelta(days=400)
    numbers = referral_numbers_take(organization=organization, count=count)
    Referral.objects.bulk_create(
        Referral(
            organization=organization,
            number=number,
            clinic=clinic,
            physician=physician,
            patient_first_name="Pat",
            patient_last_name=f"Patient{n}",
            patient_birth_date=datetime.date(1970, 5, 1),
            patient_phone="+13035550100",
            received_at=start + datetime.timedelta(minutes=n),
        )
        for n, number in enumerate(numbers)
    )


def request(organization, membership) -> ReferralExport:
    return referral_export_request(
        organization=organization,
        acting=membership,
        filters={},
        filters_description="All referrals",
        include_patient_data=True,
        time_zone="America/Denver",
    )


def finished(export: ReferralExport) -> bool:
    return ReferralExport.objects.get(pk=export.pk).is_finished


def rows_of(export: ReferralExport) -> list[list[str]]:
    with export.file.open("rb") as file:
        return list(csv.reader(io.StringIO(file.read().decode("utf-8-sig"))))


def test_a_real_worker_writes_the_export(summit, summit_admin, workers, exported_files):
    make_referrals(summit, 30)
    worker = workers()

    export = request(summit, summit_admin)
    exported_files.append(storage_name(organization_id=summit.pk, export_id=export.pk))

    wait_until(lambda: finished(export), worker=worker, what="the export finished")
    export.refresh_from_db()
    assert export.status == ExportStatus.READY, export.error
    rows = rows_of(export)
    assert len(rows) == 31
    assert rows[1][1] == "Patient29"  # newest first, with the patient columns asked for


def test_a_worker_killed_midway_leaves_no_file_and_the_next_writes_one_whole(
    summit, summit_admin, workers, exported_files
):
    make_referrals(summit, 12_000)
    first = workers()
    export = request(summit, summit_admin)
    name = storage_name(organization_id=summit.pk, export_id=export.pk)
    exported_files.append(name)

    def writing() -> bool:
        current = ReferralExport.objects.get(pk=export.pk)
        assert current.status != ExportStatus.READY, "the export finished before the worker could be killed"
        return current.status == ExportStatus.RUNNING and current.rows_done > 0

    wait_until(writing, worker=first, what="the export started writing")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=20)

    killed = ReferralExport.objects.get(pk=export.pk)
    assert (killed.status, killed.file.name) == (ExportStatus.RUNNING, "")
    assert not default_storage.exists(name)  # it was writing to a temporary file, not to storage
    # Its lease would run out in minutes; the test does not wait for it.
    ReferralExport.objects.filter(pk=export.pk).update(claimed_until=timezone.now())
    second = workers()
    assert referral_exports_sweep().requeued == 1

    wait_until(lambda: finished(export), worker=second, what="the export finished")
    export.refresh_from_db()
    assert (export.status, export.rows_done, export.file.name) == (ExportStatus.READY, 12_000, name)
    assert len(rows_of(export)) == 12_001
    assert [path.name for path in Path(default_storage.path(name)).parent.iterdir()] == [f"{export.pk}.csv"]
