"""Writing the trail: one event per access, chained, in one statement on PostgreSQL; and its pruning.

Ordering. Each organization's events are numbered one after another; the
number and the previous hash come from the organization's `ChainHead` row,
which the write updates first, so its row lock serializes the organization's
writers (other organizations do not wait). On PostgreSQL the head's update,
the event and its referral rows are one statement (data-modifying CTEs): the
lock is held for that statement only, or to the end of the caller's
transaction when there is one. The hash is computed by the database inside
the update from the head's values under the lock; `chain.event_hash` is the
same computation in Python, for verification. SQLite has no row locks (its
IMMEDIATE transactions serialize every writer) and no data-modifying CTEs, so
there the same steps are three statements in a transaction.
"""

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from clinics.models import Organization

from .chain import canonical_payload
from .models import GENESIS_HASH, AccessEvent, AccessEventReferral, AccessKind, AuditSettings, ChainHead
from .selectors import audit_settings_get


@dataclass(frozen=True, kw_only=True)
class Access:
    """What one event records (the organization and the time are given beside it)."""

    kind: AccessKind
    user: User | None = None
    ip_address: str | None = None
    path_name: str = ""
    object_type: str = ""
    object_id: int | None = None
    detail: str = ""
    referral_ids: frozenset[int] = frozenset()


def normalized_ip(value: str | None) -> str | None:
    """The address as the database gives it back (compressed IPv6, IPv4 unmapped), so it hashes the same."""
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)


# What the write statements take: the event's fields as the database adapter takes them.
SqlValue = int | str | datetime | list[int] | None

_POSTGRES_WRITE = """
WITH head AS (
    UPDATE audit_chainhead
    SET seq = seq + 1,
        prev_hash = last_hash,
        last_hash = encode(
            sha256(convert_to(%(payload)s || '|' || (seq + 1)::text || '|' || last_hash, 'UTF8')), 'hex'
        )
    WHERE organization_id = %(organization_id)s
    RETURNING seq, prev_hash, last_hash
), event AS (
    INSERT INTO audit_accessevent
        (organization_id, seq, at, user_id, ip_address, kind, path_name, object_type, object_id,
         detail, referral_count, prev_hash, hash)
    SELECT %(organization_id)s, head.seq, %(at)s::timestamptz, %(user_id)s::bigint, %(ip_address)s::inet,
           %(kind)s, %(path_name)s, %(object_type)s, %(object_id)s::bigint, %(detail)s,
           %(referral_count)s, head.prev_hash, head.last_hash
    FROM head
    RETURNING id, seq
), shown AS (
    INSERT INTO audit_accesseventreferral (event_id, organization_id, referral_id)
    SELECT event.id, %(organization_id)s, referral_id
    FROM event, unnest(%(referral_ids)s::bigint[]) AS referral_id
)
SELECT id FROM event
"""

_SQLITE_ADVANCE = """
UPDATE audit_chainhead
SET seq = seq + 1,
    prev_hash = last_hash,
    last_hash = SHA256(%s || '|' || (seq + 1) || '|' || last_hash)
WHERE organization_id = %s
RETURNING seq, prev_hash, last_hash
"""


def _chain_head_create(organization_id: int) -> None:
    """The organization's chain starts at genesis; a second writer racing to start it finds it there."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_chainhead "
            "(organization_id, seq, last_hash, prev_hash, anchor_seq, anchor_hash) "
            "VALUES (%s, 0, %s, %s, 0, %s) ON CONFLICT (organization_id) DO NOTHING",
            [organization_id, GENESIS_HASH, GENESIS_HASH, GENESIS_HASH],
        )


def _write_postgres(params: dict[str, SqlValue]) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(_POSTGRES_WRITE, params)
        row = cursor.fetchone()
    return int(row[0]) if row else None


def _write_sqlite(params: dict[str, SqlValue], referral_ids: list[int]) -> int | None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_SQLITE_ADVANCE, [params["payload"], params["organization_id"]])
        head = cursor.fetchone()
        if head is None:
            return None
        seq, prev_hash, last_hash = head
        cursor.execute(
            "INSERT INTO audit_accessevent (organization_id, seq, at, user_id, ip_address, kind, path_name, "
            "object_type, object_id, detail, referral_count, prev_hash, hash) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            [
                params["organization_id"],
                seq,
                params["at"],
                params["user_id"],
                params["ip_address"],
                params["kind"],
                params["path_name"],
                params["object_type"],
                params["object_id"],
                params["detail"],
                params["referral_count"],
                prev_hash,
                last_hash,
            ],
        )
        event_id = int(cursor.fetchone()[0])
        if referral_ids:
            cursor.executemany(
                "INSERT INTO audit_accesseventreferral (event_id, organization_id, referral_id) "
                "VALUES (%s, %s, %s)",
                [(event_id, params["organization_id"], referral_id) for referral_id in referral_ids],
            )
    return event_id


def access_record(*, organization: Organization | int, access: Access, at: datetime | None = None) -> int:
    """Appends one event to the organization's chain and returns its id.

    One statement on PostgreSQL once the organization's chain has started
    (the first event also creates the chain's head). Raises whatever the
    database raises: a caller about to show data must not show it then.
    """
    organization_id = organization if isinstance(organization, int) else organization.pk
    at = at or timezone.now()
    ip_address = normalized_ip(access.ip_address)
    referral_ids = sorted(access.referral_ids)
    user_id = access.user.pk if access.user else None
    payload = canonical_payload(
        organization_id=organization_id,
        at=at,
        user_id=user_id,
        ip_address=ip_address,
        kind=access.kind.value,
        path_name=access.path_name,
        object_type=access.object_type,
        object_id=access.object_id,
        detail=access.detail,
        referral_ids=referral_ids,
    )
    params: dict[str, SqlValue] = {
        "payload": payload,
        "organization_id": organization_id,
        "at": connection.ops.adapt_datetimefield_value(at),
        "user_id": user_id,
        "ip_address": ip_address,
        "kind": access.kind.value,
        "path_name": access.path_name,
        "object_type": access.object_type,
        "object_id": access.object_id,
        "detail": access.detail,
        "referral_count": len(referral_ids),
        "referral_ids": referral_ids,
    }
    postgres = connection.vendor == "postgresql"
    event_id = _write_postgres(params) if postgres else _write_sqlite(params, referral_ids)
    if event_id is None:
        _chain_head_create(organization_id)
        event_id = _write_postgres(params) if postgres else _write_sqlite(params, referral_ids)
    if event_id is None:
        raise RuntimeError("The audit chain's head could not be created.")
    return event_id


# The PostgreSQL trigger (migration 0002) lets a DELETE through only while
# this setting is on, which the prune sets for its own transaction alone.
PRUNE_SETTING = "rapport.audit_prune"


def _prune_permission(*, on: bool) -> None:
    """Lets this transaction delete events (PostgreSQL), and takes the permission back.

    Local to the transaction (set_config's third argument), so it ends with
    it even if the prune fails half-way; switched off explicitly as well, for
    a prune run inside a longer transaction.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, true)", [PRUNE_SETTING, "on" if on else "off"])


@dataclass(frozen=True)
class PruneResult:
    removed: int
    cutoff: datetime


def audit_settings_update(*, organization: Organization, retention_years: int) -> AuditSettings:
    settings = audit_settings_get(organization=organization)
    settings.retention_years = retention_years
    settings.full_clean()
    settings.save(update_fields=["retention_years"])
    return settings


def retention_cutoff(*, years: int, now: datetime) -> datetime:
    # 365.25 days a year: within a day of the calendar's years, whatever leap years fall between.
    return now - timedelta(days=round(365.25 * years))


@transaction.atomic
def events_prune(*, organization: Organization, now: datetime | None = None) -> PruneResult:
    """Removes the organization's events older than its retention period, then records the run.

    The chain's oldest events go first and only as a prefix: everything up to
    the last event older than the cutoff. The head keeps that event's number
    and hash as the anchor `audit_verify` starts from. Run twice, the second
    run removes nothing and records that it ran.
    """
    now = now or timezone.now()
    cutoff = retention_cutoff(years=audit_settings_get(organization=organization).retention_years, now=now)
    removed = 0
    head = ChainHead.objects.select_for_update().filter(organization=organization).first()
    if head is not None:
        last_old = (
            AccessEvent.objects.filter(organization=organization, at__lt=cutoff, seq__gt=head.anchor_seq)
            .order_by("-seq")
            .values("seq", "hash")
            .first()
        )
        if last_old is not None:
            _prune_permission(on=True)
            # Raw deletes: the models refuse delete(), which is the app's everyday path.
            shown = AccessEventReferral.objects.filter(
                organization=organization, event__organization=organization, event__seq__lte=last_old["seq"]
            )
            shown._raw_delete(shown.db)
            old = AccessEvent.objects.filter(organization=organization, seq__lte=last_old["seq"])
            removed = old._raw_delete(old.db)
            _prune_permission(on=False)
            ChainHead.objects.filter(pk=head.pk).update(
                anchor_seq=last_old["seq"], anchor_hash=last_old["hash"], pruned_through=cutoff
            )
    access_record(
        organization=organization,
        access=Access(
            kind=AccessKind.PRUNE,
            detail=f"removed {removed} events before {cutoff:%Y-%m-%d}",
        ),
        at=now,
    )
    return PruneResult(removed=removed, cutoff=cutoff)
