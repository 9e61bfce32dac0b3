"""Reading the trail: the audit search, a referral's "who has seen this", and the CSV's rows."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from clinics.models import Organization

from .models import AccessEvent, AccessEventReferral, AuditSettings

EXPORT_CHUNK = 2000


@dataclass(frozen=True, kw_only=True)
class AccessSearch:
    referral_id: int | None = None
    user_id: int | None = None
    kind: str = ""
    since: datetime | None = None
    until: datetime | None = None


def audit_settings_get(*, organization: Organization) -> AuditSettings:
    """The organization's retention, made with the default (six years) the first time it is asked for."""
    settings, _ = AuditSettings.objects.get_or_create(organization=organization)
    return settings


def access_events_search(*, organization: Organization, search: AccessSearch) -> QuerySet[AccessEvent]:
    """The organization's events matching `search`, newest first.

    Each filter has an index led by the organization: (organization, at) for
    dates, (organization, user, at), (organization, kind, at), and for a
    referral the referral rows' (organization, referral, event), from which
    only that referral's events are read.
    """
    events = AccessEvent.objects.filter(organization=organization)
    if search.referral_id is not None:
        events = events.filter(
            pk__in=AccessEventReferral.objects.filter(
                organization=organization, referral_id=search.referral_id
            ).values("event_id")
        )
    if search.user_id is not None:
        events = events.filter(user_id=search.user_id)
    if search.kind:
        events = events.filter(kind=search.kind)
    if search.since is not None:
        events = events.filter(at__gte=search.since)
    if search.until is not None:
        events = events.filter(at__lt=search.until)
    return events.select_related("user").order_by("-at", "-seq")


def older_than(events: QuerySet[AccessEvent], *, at: datetime, seq: int) -> QuerySet[AccessEvent]:
    """The page after the one that ended with the event (`at`, `seq`): keyset paging, no count of millions."""
    return events.filter(Q(at__lt=at) | Q(at=at, seq__lt=seq))


def event_referral_ids(*, organization: Organization, event_ids: list[int]) -> dict[int, list[int]]:
    shown: dict[int, list[int]] = {}
    for event_id, referral_id in (
        AccessEventReferral.objects.filter(organization=organization, event_id__in=event_ids)
        .order_by("event_id", "referral_id")
        .values_list("event_id", "referral_id")
    ):
        shown.setdefault(event_id, []).append(referral_id)
    return shown


def referral_seen_by(*, organization: Organization, referral_id: int, limit: int) -> list[AccessEvent]:
    """The latest events that showed the referral, newest first, with who (two queries at most)."""
    return list(
        access_events_search(organization=organization, search=AccessSearch(referral_id=referral_id))[:limit]
    )


def access_events_in_chunks(
    *, organization: Organization, search: AccessSearch
) -> Iterator[tuple[AccessEvent, list[int]]]:
    """Every matching event with its referral ids, newest first, two queries per chunk (for the CSV)."""
    events = access_events_search(organization=organization, search=search)
    page = events
    while True:
        chunk = list(page[:EXPORT_CHUNK])
        if not chunk:
            return
        shown = event_referral_ids(organization=organization, event_ids=[event.pk for event in chunk])
        for event in chunk:
            yield event, shown.get(event.pk, [])
        last = chunk[-1]
        page = older_than(events, at=last.at, seq=last.seq)
