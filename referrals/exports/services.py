"""Writes for the referral export: request one, write its file in the worker, fail it, sweep them."""

import io
import logging
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from clinics.models import Membership, Organization
from clinics.roles import ADMINS, acts_as
from config.spreadsheets import csv_lines

from ..models import ExportStatus, ReferralExport
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
SWEEP_BATCH = 500


class ExportClaimLost(Exception):
    """The run no longer holds the export: its lease ran out and another run took over, or it expired."""


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


def referral_export_run(*, export_id: int) -> ReferralExport | None:
    """Writes the export's file if this run can claim it; returns the export, or None if it was not claimable.

    Not claimable: another run holds it, or it is finished or expired. An
    error releases the claim and propagates, so the task can retry; once it
    gives up, `referral_export_fail` records why.
    """
    export = _claim(export_id)
    if export is None:
        logger.info("Referral export %s is not waiting to be written; nothing to do", export_id)
        return None
    try:
        _write(export)
    except ExportClaimLost:
        logger.warning("Referral export %s was taken over by another run; this run stopped", export_id)
    except BaseException:
        ReferralExport.objects.filter(pk=export.pk, claim_token=export.claim_token).update(
            status=ExportStatus.QUEUED, claim_token="", claimed_until=None
        )
        raise
    export.refresh_from_db()
    return export


def _claim(export_id: int) -> ReferralExport | None:
    """Takes the export for this run with one conditional UPDATE: two runs never both win it."""
    now = timezone.now()
    token = secrets.token_hex(16)
    claimable = Q(status=ExportStatus.QUEUED) | Q(status=ExportStatus.RUNNING, claimed_until__lte=now)
    claimed = ReferralExport.objects.filter(
        claimable, pk=export_id, expires_at__gt=now, attempts__lt=EXPORT_MAX_ATTEMPTS
    ).update(
        status=ExportStatus.RUNNING,
        attempts=F("attempts") + 1,
        claim_token=token,
        claimed_until=now + EXPORT_LEASE,
        started_at=now,
        rows_done=0,
        rows_total=0,
        error="",
    )
    if not claimed:
        return None
    return ReferralExport.objects.select_related("organization").get(pk=export_id)


def _renew(export: ReferralExport, **progress: int) -> None:
    """Saves progress and renews the lease, if this run still holds the claim."""
    renewed = ReferralExport.objects.filter(pk=export.pk, claim_token=export.claim_token).update(
        claimed_until=timezone.now() + EXPORT_LEASE, **progress
    )
    if not renewed:
        raise ExportClaimLost


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
        rows = (
            [column.value(referral) for column in columns]
            for referral in referrals.iterator(chunk_size=EXPORT_CHUNK_SIZE)
        )
        lines = csv_lines([column.header for column in columns], rows)
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
        name = _store(storage_name(organization_id=export.organization_id, export_id=export.pk), raw)
    now = timezone.now()
    published = ReferralExport.objects.filter(pk=export.pk, claim_token=export.claim_token).update(
        status=ExportStatus.READY,
        file=name,
        rows_done=rows_done,
        rows_total=rows_done,
        finished_at=now,
        expires_at=now + EXPORT_LIFETIME,
        claim_token="",
        claimed_until=None,
    )
    if not published:
        raise ExportClaimLost
    logger.info("Referral export %s is ready: %d rows", export.pk, rows_done)


def _store(name: str, content: IO[bytes]) -> str:
    """Puts the finished file under the export's one name, replacing what a killed run left there."""
    default_storage.delete(name)
    return default_storage.save(name, File(content, name=name))


def referral_export_fail(*, export_id: int, error: str) -> None:
    """Marks the export failed with `error`, unless it has finished."""
    ReferralExport.objects.filter(
        pk=export_id, status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]
    ).update(
        status=ExportStatus.FAILED,
        error=error,
        finished_at=timezone.now(),
        claim_token="",
        claimed_until=None,
    )


@dataclass(frozen=True)
class ExportSweep:
    requeued: int
    given_up: int
    expired: int


def referral_exports_sweep(*, now: datetime | None = None) -> ExportSweep:
    """Queues again the exports whose message or run was lost, and expires old ones; safe to run twice.

    1. Stalled: waiting longer than a lease (the broker was down when it was
       requested), or running with its lease run out (its worker died). Queued
       again, as the claim makes an extra message harmless; or failed, when
       EXPORT_MAX_ATTEMPTS runs have claimed it already.
    2. Expired: past `expires_at` and not being written at this moment. The
       row is kept, its file deleted once the row's change commits. Rows are
       locked and skipped if locked, so two sweeps never expire a row twice.
    """
    now = now or timezone.now()
    stalled = ReferralExport.objects.filter(
        Q(status=ExportStatus.QUEUED, created_at__lte=now - EXPORT_LEASE)
        | Q(status=ExportStatus.RUNNING, claimed_until__lte=now),
        expires_at__gt=now,
    )
    given_up = stalled.filter(attempts__gte=EXPORT_MAX_ATTEMPTS).update(
        status=ExportStatus.FAILED, error=GIVEN_UP, finished_at=now, claim_token="", claimed_until=None
    )
    requeued = list(stalled.values_list("pk", flat=True))
    for export_id in requeued:
        _queue(export_id)
    expired = 0
    while True:
        with transaction.atomic():
            batch = list(
                ReferralExport.objects.select_for_update(skip_locked=True)
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
            ReferralExport.objects.filter(pk__in=[export_id for export_id, _ in batch]).update(
                status=ExportStatus.EXPIRED, file="", claim_token="", claimed_until=None
            )
            for export_id, organization_id in batch:
                _delete_on_commit(storage_name(organization_id=organization_id, export_id=export_id))
        expired += len(batch)
        if len(batch) < SWEEP_BATCH:
            return ExportSweep(requeued=len(requeued), given_up=given_up, expired=expired)


def _delete_on_commit(name: str) -> None:
    # By its one name, not the row's file field: it also finds what a run that never finished left.
    transaction.on_commit(lambda: default_storage.delete(name))
