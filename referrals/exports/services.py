"""Writes for the referral export: request one, write its file in the worker, fail it, sweep them."""

import io
import logging
import tempfile
from collections.abc import Mapping
from contextlib import closing
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from clinics.exports.jobs import ExportFiles, ExportSweep
from clinics.models import Membership, Organization
from clinics.roles import ADMINS, acts_as
from config.spreadsheets import csv_lines

from ..models import ReferralExport
from .columns import export_columns, fields_read, filters_for_storage, storage_name
from .selectors import referral_export_rows

logger = logging.getLogger(__name__)

# Long enough to download the file the next morning, short enough that patient
# data does not linger on the server.
EXPORT_LIFETIME = timedelta(hours=24)
# Rows read from the database, written and reported at a time: a few MB of memory.
EXPORT_CHUNK_SIZE = 2000
# How long a run's claim lasts without news from it; renewed after every chunk
# (a fraction of a second each), so only a dead run lets it run out.
EXPORT_LEASE = timedelta(minutes=5)
# Runs that may claim an export: a worker killed once (a deploy) is ordinary, every time is not.
EXPORT_MAX_ATTEMPTS = 3
GIVEN_UP = (
    f"The export was started {EXPORT_MAX_ATTEMPTS} times and never finished. "
    "Narrow the filters and export again; if it fails again, tell your administrator."
)


def referral_export_request(
    *,
    organization: Organization,
    acting: Membership,
    filters: Mapping[str, Any],
    filters_description: str,
    include_patient_data: bool,
    time_zone: str,
) -> ReferralExport:
    """Records an export of the referral list with `filters` (as its form parsed them) and queues it.

    `time_zone` is the zone the list was read in, where its dates are days.
    Only the organization's admins export: the file may hold every patient's details.
    """
    if not acts_as(acting, ADMINS, organization_id=organization.pk):
        raise PermissionDenied("Only the organization's admins export its referrals.")
    export = ReferralExport(
        organization=organization,
        requested_by=acting.user,
        filters=filters_for_storage(filters),
        filters_description=filters_description,
        time_zone=time_zone,
        include_patient_data=include_patient_data,
        expires_at=timezone.now() + EXPORT_LIFETIME,
    )
    export.full_clean()
    with transaction.atomic():
        export.save()
        # A broker that is down must not refuse the request: the sweep queues the export again.
        transaction.on_commit(lambda: _queue(export.pk), robust=True)
    return export


def _queue(export_id: int) -> None:
    from ..tasks import export_referrals  # imported here because the task module imports this one

    export_referrals.delay(export_id)


# The claim, lease, publication and expiry every background export shares (clinics/exports/jobs.py).
FILES = ExportFiles[ReferralExport](
    model=ReferralExport,
    lifetime=EXPORT_LIFETIME,
    lease=EXPORT_LEASE,
    max_attempts=EXPORT_MAX_ATTEMPTS,
    given_up=GIVEN_UP,
    storage_name=storage_name,
    queue=_queue,
    progress_reset={"rows_done": 0, "rows_total": 0},
)


def referral_export_run(*, export_id: int) -> ReferralExport | None:
    """Writes the export's file if this run can claim it; returns the export, or None if it was not claimable.

    Not claimable: another run holds it, or it is finished or expired. An
    error releases the claim and propagates, so the task can retry; once it
    gives up, `referral_export_fail` records why.
    """
    export = FILES.claim(export_id)
    if export is None:
        logger.info("Referral export %s is not waiting to be written; nothing to do", export_id)
        return None
    with FILES.running(export, name="Referral export"):
        _write(export)
    export.refresh_from_db()
    return export


def _renew(export: ReferralExport, **progress: int) -> None:
    """Saves progress and renews the lease, if this run still holds the claim."""
    FILES.renew(export, **progress)


def _write(export: ReferralExport) -> None:
    columns = export_columns(include_patient_data=export.include_patient_data)
    # The list's dates are days in the zone it was read in; its times are shown in that zone too.
    with timezone.override(ZoneInfo(export.time_zone)), tempfile.TemporaryFile() as raw:
        referrals = referral_export_rows(
            organization=export.organization, filters=export.filters, fields=fields_read(columns)
        )
        _renew(export, rows_total=referrals.count())
        # A byte-order mark, so Excel reads the file as UTF-8 ("José", not "JosÃ©").
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        header = [column.header for column in columns]
        # Closed on the way out, and the rows with them (nothing else holds them), so a run
        # stopped midway closes its server-side cursor while its transaction is still open.
        with closing(
            csv_lines(
                header,
                (
                    [column.value(referral) for column in columns]
                    for referral in referrals.iterator(chunk_size=EXPORT_CHUNK_SIZE)
                ),
            )
        ) as lines:
            text.write(next(lines))
            rows_done = 0
            for line in lines:
                text.write(line)
                rows_done += 1
                if rows_done % EXPORT_CHUNK_SIZE == 0:
                    _renew(export, rows_done=rows_done)
        text.flush()
        text.detach()
        # Checked once more just before the file is replaced: only the holder of the claim writes it.
        _renew(export, rows_done=rows_done)
        raw.seek(0)
        name = FILES.store(export, raw)
    FILES.publish(export, file_name=name, rows_done=rows_done, rows_total=rows_done)
    logger.info("Referral export %s is ready: %d rows", export.pk, rows_done)


def referral_export_fail(*, export_id: int, error: str) -> None:
    """Marks the export failed with `error`, unless it has finished."""
    FILES.fail(export_id, error)


def referral_exports_sweep(*, now: datetime | None = None) -> ExportSweep:
    """Queues again the exports whose message or run was lost, and expires old ones; safe to run twice.

    See `ExportFiles.sweep`: stalled exports are queued again, or given up
    after EXPORT_MAX_ATTEMPTS runs; expired ones keep their row and lose their file.
    """
    return FILES.sweep(now=now)
