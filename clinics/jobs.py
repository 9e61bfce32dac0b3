"""The claim and lease of a job a worker runs: shared by the exports and the imports.

A job is a row (its status, a claim token and lease, the runs that claimed
it) that a Celery task runs. Messages are acknowledged late, so a worker
killed mid-job (a deploy, the out-of-memory killer) has its message
delivered again, and a beat sweep queues again what the broker lost.
`JobLease` makes all of that harmless:

1. Claim: the job's row, read with SELECT … FOR UPDATE SKIP LOCKED and
   updated under the same conditions, is taken if it is waiting or its lease
   ran out (a fresh token and lease); two runs never both win, so a
   redelivered message does nothing.
2. Renew: as it goes, the run saves its progress and renews its lease, if it
   still holds the token; if not, it stops (`ClaimLost`).
3. Hold and finish: the transaction that writes the job's work first locks
   the job's row (`hold`), so no claim or sweep takes the job while it is
   open, however long (its renewals there are not seen), and last records
   the outcome under the claim: a run that lost its claim leaves nothing.
4. Requeue: a job waiting longer than a lease (the broker was down) or
   running with its lease run out (its worker died) is queued again, or
   failed with `given_up` once `max_attempts` runs have claimed it (or with
   `stale` once it waited longer than `stale_after`).
"""

import logging
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import models, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

logger = logging.getLogger(__name__)

# The states every job shares, by value: clinics' ExportStatus and physicians'
# ImportStatus both name them so (tests/clinics/test_jobs.py holds them to it).
QUEUED, RUNNING, FAILED = "queued", "running", "failed"


class ClaimLost(Exception):
    """The run no longer holds the job: its lease ran out and another run took over, or it ended."""


@dataclass(frozen=True)
class Requeued:
    requeued: int
    given_up: int


@dataclass(frozen=True, kw_only=True)
class JobLease[JobT: models.Model]:
    model: type[JobT]
    # How long a claim lasts without news from its run.
    lease: timedelta
    # Runs that may claim a job: a worker killed once (a deploy) is ordinary, every time is not.
    max_attempts: int
    # The error a job is failed with once `max_attempts` runs have claimed it.
    given_up: str
    # `queue(job_id)`: sends the job to a worker.
    queue: Callable[[int], None]
    # The progress fields a new claim starts again from.
    progress_reset: Mapping[str, Any] = field(default_factory=dict)
    # What else a job must be to run (billing: its columns mapped).
    runnable: Q = field(default_factory=Q)
    # A stalled job queued longer ago than this is failed with `stale`, not run: an old
    # file must not undo newer work (imports). None: never too old (exports expire instead).
    stale_after: timedelta | None = None
    stale: str = ""

    def runnable_at(self, now: datetime) -> Q:
        """The jobs a run may take at `now`, waiting or not (exports add: not yet expired)."""
        return self.runnable

    def claim(self, job_id: int) -> JobT | None:
        """Takes the job for this run: its free row locked, then a conditional UPDATE; only one run wins.

        None when it is not claimable: another run holds it, it has ended, or
        `max_attempts` runs have claimed it already. A row another run has
        locked is held, whatever its lease says: that run is writing its work
        in an open transaction, where its renewals cannot be seen
        (`hold`; PostgreSQL's SKIP LOCKED; SQLite has one writer at a time).
        """
        now = timezone.now()
        claimable = self.model._default_manager.filter(
            Q(status=QUEUED) | Q(status=RUNNING, claimed_until__lte=now),
            self.runnable_at(now),
            pk=job_id,
            attempts__lt=self.max_attempts,
        )
        with transaction.atomic():
            free = list(claimable.select_for_update(skip_locked=True).values_list("pk", flat=True))
            claimed = claimable.filter(pk__in=free).update(
                status=RUNNING,
                attempts=F("attempts") + 1,
                claim_token=secrets.token_hex(16),
                claimed_until=now + self.lease,
                started_at=now,
                error="",
                **self.progress_reset,
            )
        if not claimed:
            return None
        return self.model._default_manager.select_related("organization").get(pk=job_id)

    def hold(self, job: Any) -> None:
        """Locks the job's row for the rest of the caller's transaction, if this run still holds the claim.

        Called first in the transaction that writes the job's work, where a
        renewal would not be seen: while it is open, no claim and no sweep
        takes the job, however long it runs. Raises ClaimLost.
        """
        # NO KEY UPDATE: claims and sweeps skip the row, rows that refer to it need not wait.
        if not self._held(job).select_for_update(no_key=True).exists():
            raise ClaimLost

    @contextmanager
    def running(self, job: Any, *, name: str) -> Iterator[None]:
        """Around a claimed job's work: a lost claim ends it quietly, any other error gives the claim back.

        The other error propagates, so the task can retry; `name` says what
        the log line is about ("NPPES import").
        """
        try:
            yield
        except ClaimLost:
            logger.warning(
                "%s %s is no longer this run's (taken over, or ended); this run stopped", name, job.pk
            )
        except BaseException:
            try:
                self.release(job)
            except Exception:
                # The database that failed the work may fail this too: the error that stopped
                # the run is the one to report, and the lease hands the job on in time.
                logger.exception("%s %s: the claim could not be given back", name, job.pk)
            raise

    def renew(self, job: Any, **progress: Any) -> None:
        """Saves progress and renews the lease, if this run still holds the claim; else raises ClaimLost."""
        renewed = self._held(job).update(claimed_until=timezone.now() + self.lease, **progress)
        if not renewed:
            raise ClaimLost

    def release(self, job: Any) -> None:
        """Gives the claim back after an error, so a retry can claim the job at once.

        The run does not count against `max_attempts`: the task's own retries
        bound errors, and the attempts count runs whose worker died.
        """
        self._held(job).update(
            status=QUEUED, claim_token="", claimed_until=None, attempts=Greatest(F("attempts") - 1, 0)
        )

    def finish(self, job: Any, *, status: str, **fields: Any) -> None:
        """Records the job's outcome, if this run still holds the claim; else raises ClaimLost.

        Inside the transaction that writes the job's work, a lost claim rolls
        the work back with it.
        """
        fields.setdefault("finished_at", timezone.now())
        finished = self._held(job).update(status=status, claim_token="", claimed_until=None, **fields)
        if not finished:
            raise ClaimLost

    def fail(self, job_id: int, error: str) -> None:
        """Fails the job with `error` (its task gave up), unless it has ended or another run holds it.

        The giving-up run released its claim; a run that took the job over
        since, its lease still running, is left to finish.
        """
        now = timezone.now()
        unheld = Q(status=QUEUED) | (Q(status=RUNNING) & (Q(claimed_until__lte=now) | Q(claimed_until=None)))
        self.model._default_manager.filter(unheld, pk=job_id).update(
            status=FAILED, error=error, finished_at=now, claim_token="", claimed_until=None
        )

    def requeue_stalled(self, *, now: datetime | None = None) -> Requeued:
        """Queues again the jobs whose message or run was lost, or gives them up; safe to run twice.

        Stalled: waiting longer than a lease (the broker was down when it was
        queued), or running with its lease run out (its worker died). Queued
        again, as the claim makes an extra message harmless; or failed with
        `given_up` when `max_attempts` runs have claimed it already, or with
        `stale` when it was queued longer ago than `stale_after`.
        """
        now = now or timezone.now()
        stalled = self.model._default_manager.filter(
            Q(status=QUEUED, created_at__lte=now - self.lease) | Q(status=RUNNING, claimed_until__lte=now),
            self.runnable_at(now),
        )
        ended = {"status": FAILED, "finished_at": now, "claim_token": "", "claimed_until": None}
        given_up = 0
        with transaction.atomic():
            # A row another run has locked is being written (`hold`): not stalled, whatever its lease.
            stalled = stalled.filter(
                pk__in=list(stalled.select_for_update(skip_locked=True).values_list("pk", flat=True))
            )
            if self.stale_after is not None:
                given_up += stalled.filter(created_at__lte=now - self.stale_after).update(
                    error=self.stale, **ended
                )
            given_up += stalled.filter(attempts__gte=self.max_attempts).update(error=self.given_up, **ended)
            requeued = list(stalled.values_list("pk", flat=True))
        for job_id in requeued:
            self.queue(job_id)
        return Requeued(requeued=len(requeued), given_up=given_up)

    def _held(self, job: Any) -> models.QuerySet[JobT]:
        return self.model._default_manager.filter(pk=job.pk, claim_token=job.claim_token).exclude(
            claim_token=""
        )
