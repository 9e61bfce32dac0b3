"""The claim, lease and expiry of files written in the background: shared by every export.

An export is a row (its status, a claim token and lease, the runs that
claimed it, when it expires) and, once written, a file under one name per
export. `ExportFiles` holds what differs between kinds of export (the model,
how long a file lives, where it is stored, how a run is queued) and does the
rest the same way for all:

1. Claim: one conditional UPDATE takes a waiting export, or one whose lease
   ran out, for this run (a fresh token and lease); two runs never both win,
   so a redelivered message does nothing.
2. Renew: after every chunk the run saves its progress and renews its lease,
   if it still holds the token; if not, it stops (`ExportClaimLost`).
3. Publish: the whole file is stored under the export's one name (a rerun
   replaces it, never adds one), then the row is marked ready, still under
   the claim: nobody is offered a file before it is whole.
4. Sweep: exports whose message or run was lost are queued again (or given
   up after `max_attempts` runs); those past `expires_at` are marked expired
   and their files deleted once that commits.
"""

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from ..models import ExportStatus

SWEEP_BATCH = 500


class ExportClaimLost(Exception):
    """The run no longer holds the export: its lease ran out and another run took over, or it expired."""


@dataclass(frozen=True)
class ExportSweep:
    requeued: int
    given_up: int
    expired: int


@dataclass(frozen=True)
class ExportFiles[ExportT: models.Model]:
    model: type[ExportT]
    # How long a written file is kept.
    lifetime: timedelta
    # How long a claim lasts without news from its run.
    lease: timedelta
    # Runs that may claim an export: a worker killed once (a deploy) is ordinary, every time is not.
    max_attempts: int
    # The error an export is failed with once `max_attempts` runs have claimed it.
    given_up: str
    # `storage_name(organization_id=…, export_id=…)`: the export's one file name.
    storage_name: Callable[..., str]
    # `queue(export_id)`: sends the export to a worker.
    queue: Callable[[int], None]
    # The progress fields a new claim starts again from.
    progress_reset: Mapping[str, Any] = field(default_factory=dict)

    def claim(self, export_id: int) -> ExportT | None:
        """Takes the export for this run with one conditional UPDATE; two runs never both win it.

        None when it is not claimable: another run holds it, it is finished or
        expired, or `max_attempts` runs have claimed it already.
        """
        now = timezone.now()
        token = secrets.token_hex(16)
        claimable = Q(status=ExportStatus.QUEUED) | Q(status=ExportStatus.RUNNING, claimed_until__lte=now)
        claimed = self.model._default_manager.filter(
            claimable, pk=export_id, expires_at__gt=now, attempts__lt=self.max_attempts
        ).update(
            status=ExportStatus.RUNNING,
            attempts=F("attempts") + 1,
            claim_token=token,
            claimed_until=now + self.lease,
            started_at=now,
            error="",
            **self.progress_reset,
        )
        if not claimed:
            return None
        return self.model._default_manager.select_related("organization").get(pk=export_id)

    def renew(self, export: Any, **progress: Any) -> None:
        """Saves progress and renews the lease, if this run still holds the claim."""
        renewed = self.model._default_manager.filter(pk=export.pk, claim_token=export.claim_token).update(
            claimed_until=timezone.now() + self.lease, **progress
        )
        if not renewed:
            raise ExportClaimLost

    def release(self, export: Any) -> None:
        """Gives the claim back after an error, so a retry can claim the export at once."""
        self.model._default_manager.filter(pk=export.pk, claim_token=export.claim_token).update(
            status=ExportStatus.QUEUED, claim_token="", claimed_until=None
        )

    def store(self, export: Any, content: IO[bytes]) -> str:
        """Puts the finished file under the export's one name, replacing what a killed run left there."""
        name = self.storage_name(organization_id=export.organization_id, export_id=export.pk)
        default_storage.delete(name)
        return default_storage.save(name, File(content, name=name))

    def publish(self, export: Any, *, file_name: str, **fields: Any) -> None:
        """Marks the export ready with its stored file, if this run still holds the claim."""
        now = timezone.now()
        published = self.model._default_manager.filter(pk=export.pk, claim_token=export.claim_token).update(
            status=ExportStatus.READY,
            file=file_name,
            finished_at=now,
            expires_at=now + self.lifetime,
            claim_token="",
            claimed_until=None,
            **fields,
        )
        if not published:
            raise ExportClaimLost

    def fail(self, export_id: int, error: str) -> None:
        """Marks the export failed with `error`, unless it has finished."""
        self.model._default_manager.filter(
            pk=export_id, status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]
        ).update(
            status=ExportStatus.FAILED,
            error=error,
            finished_at=timezone.now(),
            claim_token="",
            claimed_until=None,
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
        exports = self.model._default_manager
        stalled = exports.filter(
            Q(status=ExportStatus.QUEUED, created_at__lte=now - self.lease)
            | Q(status=ExportStatus.RUNNING, claimed_until__lte=now),
            expires_at__gt=now,
        )
        given_up = stalled.filter(attempts__gte=self.max_attempts).update(
            status=ExportStatus.FAILED,
            error=self.given_up,
            finished_at=now,
            claim_token="",
            claimed_until=None,
        )
        requeued = list(stalled.values_list("pk", flat=True))
        for export_id in requeued:
            self.queue(export_id)
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
                return ExportSweep(requeued=len(requeued), given_up=given_up, expired=expired)

    @staticmethod
    def _delete_on_commit(name: str) -> None:
        # By its one name, not the row's file field: it also finds what a run that never finished left.
        transaction.on_commit(lambda: default_storage.delete(name))
