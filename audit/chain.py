"""The hash chain over an organization's access events, and its verification.

An event's hash is SHA-256 over "<payload>|<seq>|<previous event's hash>",
where the payload is the canonical JSON of its other fields (below). The
database computes it while it writes the event (`services.access_record`),
under the chain head's lock; `chain_verify` recomputes every hash here, so an
event altered, deleted or slipped in by hand breaks the chain where it was.
"""

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db.models import Max

from clinics.models import Organization

from .models import GENESIS_HASH, AccessEvent, AccessEventReferral, ChainHead

VERIFY_CHUNK = 5000


def canonical_payload(
    *,
    organization_id: int,
    at: datetime,
    user_id: int | None,
    ip_address: str | None,
    kind: str,
    path_name: str,
    object_type: str,
    object_id: int | None,
    detail: str,
    referral_ids: Iterable[int],
) -> str:
    """The event's fields, one way: ASCII JSON, the time in UTC to the microsecond, referral ids sorted."""
    return json.dumps(
        [
            "v1",
            organization_id,
            at.astimezone(UTC).isoformat(timespec="microseconds"),
            user_id,
            ip_address,
            kind,
            path_name,
            object_type,
            object_id,
            detail,
            sorted(set(referral_ids)),
        ],
        separators=(",", ":"),
        ensure_ascii=True,
    )


def event_hash(payload: str, *, seq: int, prev_hash: str) -> str:
    return hashlib.sha256(f"{payload}|{seq}|{prev_hash}".encode("ascii")).hexdigest()


@dataclass
class ChainReport:
    organization: Organization
    checked: int = 0
    anchor_seq: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def _events_with_referrals(
    organization: Organization, after_seq: int
) -> Iterator[tuple[AccessEvent, list[int]]]:
    """The organization's events after `after_seq` in order, each with its referral ids, in bounded chunks."""
    last = after_seq
    while True:
        chunk = list(
            AccessEvent.objects.filter(organization=organization, seq__gt=last).order_by("seq")[:VERIFY_CHUNK]
        )
        if not chunk:
            return
        shown: dict[int, list[int]] = {}
        for event_id, referral_id in AccessEventReferral.objects.filter(
            event_id__in=[event.pk for event in chunk]
        ).values_list("event_id", "referral_id"):
            shown.setdefault(event_id, []).append(referral_id)
        for event in chunk:
            yield event, shown.get(event.pk, [])
        last = chunk[-1].seq


def chain_verify(*, organization: Organization) -> ChainReport:
    """Recomputes the organization's chain from its anchor and names every break.

    1. Start from the anchor the last prune left (genesis if none): its number and hash.
    2. Each event must carry the next number (a gap is a deleted event, a repeat
       an inserted one), the previous event's hash, and the hash of its own fields.
    3. The last event must be where the chain head says the chain ends (events
       deleted from the end leave the head ahead of them).
    """
    head = ChainHead.objects.filter(organization=organization).first()
    report = ChainReport(organization=organization, anchor_seq=head.anchor_seq if head else 0)
    expected_seq = report.anchor_seq + 1
    prev_hash = head.anchor_hash if head else GENESIS_HASH
    for event, referral_ids in _events_with_referrals(organization, after_seq=report.anchor_seq):
        report.checked += 1
        if event.seq != expected_seq:
            report.problems.append(
                f"event #{event.seq}: expected #{expected_seq} (events missing or inserted between them)"
            )
        if event.prev_hash != prev_hash:
            report.problems.append(f"event #{event.seq}: does not follow the event before it")
        payload = canonical_payload(
            organization_id=event.organization_id,
            at=event.at,
            user_id=event.user_id,
            ip_address=event.ip_address,
            kind=event.kind,
            path_name=event.path_name,
            object_type=event.object_type,
            object_id=event.object_id,
            detail=event.detail,
            referral_ids=referral_ids,
        )
        if event_hash(payload, seq=event.seq, prev_hash=event.prev_hash) != event.hash:
            report.problems.append(f"event #{event.seq}: its fields were changed after it was written")
        if event.referral_count != len(referral_ids):
            report.problems.append(f"event #{event.seq}: its list of referrals was changed")
        expected_seq = event.seq + 1
        prev_hash = event.hash
    last_seq = expected_seq - 1
    head_seq = head.seq if head else 0
    if head_seq != last_seq:
        report.problems.append(f"the chain ends at #{last_seq} but {head_seq} events were written")
    elif head and head.last_hash != prev_hash:
        report.problems.append(f"the chain's last event #{last_seq} is not the one written")
    earlier = AccessEvent.objects.filter(organization=organization, seq__lte=report.anchor_seq).aggregate(
        last=Max("seq")
    )["last"]
    if earlier is not None:
        report.problems.append(f"event #{earlier} is at or before the pruned anchor #{report.anchor_seq}")
    return report
