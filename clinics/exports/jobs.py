"""The files written in the background, and their expiry: shared by every export.

An export is a job (clinics/jobs.py: its claim and lease, the runs that
claimed it) that writes a file under one name per export and keeps it until
it expires. `ExportFiles` holds what differs between kinds of export (the
model, how long a file lives, where it is stored, how a run is queued) and
does the rest the same way for all:

1. Claim and renew, as every job does (`JobLease`); an expired export is
   never claimed.
2. Publish: the whole file is stored under the export's one name (a rerun
   replaces it, never adds one), then the row is marked ready, still under
   the claim: nobody is offered a file before it is whole.
3. Sweep: exports whose message or run was lost are queued again (or given
   up after `max_attempts` runs); those past `expires_at` are marked expired
   and their files deleted once that commits.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from ..jobs import JobLease
from ..models import ExportStatus

SWEEP_BATCH = 500


@dataclass(frozen=True)
class ExportSweep:
    requeued: int
    given_up: int
    expired: int


@dataclass(frozen=True, kw_only=True)
class ExportFiles[ExportT: models.Model](JobLease[ExportT]):
    # How long a written file is kept.
    lifetime: timedelta
    # `storage_name(organization_id=…, export_id=…)`: the export's one file name.
    storage_name: Callable[..., str]

    def runnable_at(self, now: datetime) -> Q:
        return self.runnable & Q(expires_at__gt=now)

    def store(self, export: Any, content: IO[bytes]) -> str:
        """Puts the finished file under the export's one name, replacing what a killed run left there."""
        name = self.storage_name(organization_id=export.organization_id, export_id=export.pk)
        default_storage.delete(name)
        return default_storage.save(name, File(content, name=name))

    def publish(self, export: Any, *, file_name: str, **fields: Any) -> None:
        """Marks the export ready with its stored file, if this run still holds the claim (else ClaimLost)."""
        now = timezone.now()
        self.finish(
            export,
            status=ExportStatus.READY,
            file=file_name,
            finished_at=now,
            expires_at=now + self.lifetime,
            **fields,
        )

    def sweep(self, *, now: datetime | None = None) -> ExportSweep:
        """Queues again the exports whose message or run was lost, and expires old ones; safe to run twice.

        1. Stalled: waiting longer than a lease (the broker was down when it
           was requested), or running with its lease run out (its worker
           died). Queued again, as the claim makes an extra message harmless;
           or failed, when `max_attempts` runs have claimed it already.
        2. Expired: past `expires_at` and not being written at this moment.
           The row is kept, its file deleted once the row's change commits.
           Rows are locked and skipped if locked, so two sweeps never expire
           a row twice.
        """
        now = now or timezone.now()
        stalled = self.requeue_stalled(now=now)
        exports = self.model._default_manager
        expired = 0
        while True:
            with transaction.atomic():
                batch = list(
                    exports.select_for_update(skip_locked=True)
                    .filter(
                        status__in=[
                            ExportStatus.QUEUED,
                            ExportStatus.RUNNING,
                            ExportStatus.READY,
                            ExportStatus.FAILED,
                        ],
                        expires_at__lte=now,
                    )
                    .exclude(status=ExportStatus.RUNNING, claimed_until__gt=now)
                    .order_by("pk")
                    .values_list("pk", "organization_id")[:SWEEP_BATCH]
                )
                exports.filter(pk__in=[export_id for export_id, _ in batch]).update(
                    status=ExportStatus.EXPIRED, file="", claim_token="", claimed_until=None
                )
                for export_id, organization_id in batch:
                    self._delete_on_commit(
                        self.storage_name(organization_id=organization_id, export_id=export_id)
                    )
            expired += len(batch)
            if len(batch) < SWEEP_BATCH:
                return ExportSweep(requeued=stalled.requeued, given_up=stalled.given_up, expired=expired)

    @staticmethod
    def _delete_on_commit(name: str) -> None:
        # By its one name, not the row's file field: it also finds what a run that never finished left.
        transaction.on_commit(lambda: default_storage.delete(name))
