"""The claim and lease every import job holds (clinics/jobs.py): NPPES files here, billing reports."""

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from django.db import models
from django.db.models import Q

from clinics.jobs import JobLease

# Renewed as a file is read. While its rows are applied, in one transaction,
# the run holds the job's row locked instead (`JobLease.hold`).
IMPORT_LEASE = timedelta(minutes=15)
# Runs a job may take: a worker killed once (a deploy) is ordinary, every time is not.
IMPORT_MAX_ATTEMPTS = 3
# A job the workers never got to within a day (workers or beat down) is not run late.
IMPORT_STALE_AFTER = timedelta(days=1)


def import_lease[JobT: models.Model](
    *,
    model: type[JobT],
    queue: Callable[[int], None],
    smaller: str,
    progress_reset: Mapping[str, Any],
    runnable: Q | None = None,
) -> JobLease[JobT]:
    """An import's lease; `smaller` says how to split a file that never finishes ("Import fewer states")."""
    return JobLease[JobT](
        model=model,
        lease=IMPORT_LEASE,
        max_attempts=IMPORT_MAX_ATTEMPTS,
        given_up=(
            f"The import was started {IMPORT_MAX_ATTEMPTS} times and never finished; nothing was changed. "
            f"{smaller} at a time; if it stops again, tell your administrator."
        ),
        stale_after=IMPORT_STALE_AFTER,
        stale=(
            "The import waited more than a day for a worker and was not run, so that an older file "
            "cannot undo a newer import; nothing was changed. Import the file again."
        ),
        queue=queue,
        progress_reset=progress_reset,
        runnable=runnable or Q(),
    )
