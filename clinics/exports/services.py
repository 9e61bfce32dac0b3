"""Writes for the organization data export: request one, write its ZIP in the worker, fail it, sweep them."""

import logging
import tempfile
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from ..models import ExportStatus, Membership, Organization, OrganizationExport
from ..roles import ADMINS, acts_as
from ..services import data_export_event
from .archive import archive_write
from .jobs import ExportFiles, ExportSweep
from .registry import excluded_models, export_tables

logger = logging.getLogger(__name__)

# Long enough to download the file the next morning, short enough that patient
# data does not linger on the server.
EXPORT_LIFETIME = timedelta(hours=24)
# Rows read from the database and written at a time, between two renewals of the claim.
EXPORT_CHUNK_SIZE = 2000
# Runs that may claim an export: a worker killed once (a deploy) is ordinary, every time is not.
EXPORT_MAX_ATTEMPTS = 3
GIVEN_UP = (
    f"The export was started {EXPORT_MAX_ATTEMPTS} times and never finished. "
    "Export again; if it fails again, tell your administrator."
)


def storage_name(*, organization_id: int, export_id: int) -> str:
    """Where an export's file is kept: one name per export, so a rerun replaces, never adds, a file."""
    return f"organization-exports/{organization_id}/{export_id}.zip"


def download_name(*, organization: Organization, export: OrganizationExport) -> str:
    return f"rapport-{organization.slug}-{export.created_at:%Y-%m-%d}-{export.pk}.zip"


def _queue(export_id: int) -> None:
    from ..tasks import export_organization  # imported here because the task module imports this one

    export_organization.delay(export_id)


FILES = ExportFiles[OrganizationExport](
    model=OrganizationExport,
    lifetime=EXPORT_LIFETIME,
    # Renewed after every chunk and every table (a fraction of a second each): only a dead run lets it lapse.
    lease=timedelta(minutes=5),
    max_attempts=EXPORT_MAX_ATTEMPTS,
    given_up=GIVEN_UP,
    storage_name=storage_name,
    queue=_queue,
    progress_reset={"tables_done": 0, "rows_done": 0, "size": 0},
)


def organization_export_request(
    *, organization: Organization, acting: Membership
) -> tuple[OrganizationExport, bool]:
    """Records an export of everything the organization holds and queues it; returns it and whether it is new.

    Only the organization's admins export: the file holds every patient's
    details. An export still waiting or being written is returned instead of
    a second one: the same data twice would only double the work.
    """
    if not acts_as(acting, ADMINS, organization_id=organization.pk):
        raise PermissionDenied("Only the organization's admins export its data.")
    under_way = (
        OrganizationExport.objects.for_organization(organization)
        .filter(status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING], expires_at__gt=timezone.now())
        .first()
    )
    if under_way is not None:
        return under_way, False
    export = OrganizationExport(
        organization=organization,
        requested_by=acting.user,
        tables_total=len(export_tables()),
        expires_at=timezone.now() + EXPORT_LIFETIME,
    )
    export.full_clean()
    with transaction.atomic():
        export.save()
        data_export_event(export=export, user=acting.user, action="requested")
        # A broker that is down must not refuse the request: the sweep queues the export again.
        transaction.on_commit(lambda: _queue(export.pk), robust=True)
    return export, True


def organization_export_run(*, export_id: int) -> OrganizationExport | None:
    """Writes the export's ZIP if this run can claim it; returns the export, or None if it was not claimable.

    An error releases the claim and propagates, so the task can retry; once
    it gives up, `organization_export_fail` records why.
    """
    export = FILES.claim(export_id)
    if export is None:
        logger.info("Organization export %s is not waiting to be written; nothing to do", export_id)
        return None
    with FILES.running(export, name="Organization export"):
        _write(export)
    export.refresh_from_db()
    return export


def _write(export: OrganizationExport) -> None:
    tables = export_tables()
    FILES.renew(export, tables_total=len(tables))
    requested_by = f" for {export.requested_by}" if export.requested_by else ""
    heading = (
        f"{export.organization.name}: data export #{export.pk}, "
        f"written {timezone.now():%Y-%m-%d %H:%M} UTC{requested_by}"
    )
    with tempfile.TemporaryFile() as raw:
        written = archive_write(
            out=raw,
            organization=export.organization,
            tables=tables,
            excluded=excluded_models(),
            heading=heading,
            chunk_size=EXPORT_CHUNK_SIZE,
            progress=lambda tables_done, rows_done: FILES.renew(
                export, tables_done=tables_done, rows_done=rows_done
            ),
        )
        size = raw.tell()
        # Checked once more just before the file is replaced: only the holder of the claim writes it.
        FILES.renew(export)
        raw.seek(0)
        name = FILES.store(export, raw)
    rows_done = sum(item.rows for item in written)
    FILES.publish(export, file_name=name, tables_done=len(written), rows_done=rows_done, size=size)
    logger.info(
        "Organization export %s is ready: %d tables, %d rows, %d bytes",
        export.pk,
        len(written),
        rows_done,
        size,
    )


def organization_export_fail(*, export_id: int, error: str) -> None:
    """Marks the export failed with `error`, unless it has finished."""
    FILES.fail(export_id, error)


def organization_exports_sweep(*, now: datetime | None = None) -> ExportSweep:
    """Queues again the exports whose message or run was lost, and expires old ones; safe to run twice."""
    return FILES.sweep(now=now)
