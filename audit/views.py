from collections.abc import Iterator
from dataclasses import dataclass

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from clinics.clock import person_today
from clinics.roles import ADMINS
from clinics.tenancy import OrganizationRequest, staff_view
from config.spreadsheets import csv_download

from . import selectors
from .forms import AccessSearchForm
from .models import AccessEvent, AccessKind
from .naming import referral_labels
from .recording import records_access

PAGE_SIZE = 100
# A list page's event names every row it showed; the search page names the first few and counts
# the rest (the CSV export names them all).
REFERRALS_NAMED_PER_EVENT = 12
EXPORT_HEADER = [
    "when",
    "person",
    "username",
    "kind",
    "page",
    "object",
    "referrals shown",
    "address",
    "detail",
    "event #",
    "hash",
]


@dataclass(frozen=True, slots=True)
class EventRow:
    event: AccessEvent
    person: str
    referrals: str  # the numbers of the first REFERRALS_NAMED_PER_EVENT referrals shown, "#12 #40"
    unnamed: int  # how many more it showed


def _search_form(request: OrganizationRequest) -> AccessSearchForm:
    return AccessSearchForm(request.GET or None, organization=request.organization)


def _person(event: AccessEvent) -> str:
    if event.user is None:
        return "Rapport" if event.kind == AccessKind.PRUNE else "signed link"
    return event.user.get_full_name() or event.user.username


@records_access()
@staff_view(roles=ADMINS)
def search(request: OrganizationRequest) -> HttpResponse:
    """Who saw what: by referral, person, kind and days, newest first, a page of 100 at a time."""
    form = _search_form(request)
    events = selectors.access_events_search(organization=request.organization, search=form.search())
    if form.is_bound and not form.is_valid():
        # A search that cannot be run shows its message, not every event.
        events = events.none()
    before = request.GET.get("before", "")
    if before.isdigit():
        last = AccessEvent.objects.filter(organization=request.organization, seq=int(before)).first()
        if last is not None:
            events = selectors.older_than(events, at=last.at, seq=last.seq)
    rows = list(events[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    shown = selectors.event_referral_ids(
        organization=request.organization, event_ids=[event.pk for event in rows]
    )
    named = {event_id: ids[:REFERRALS_NAMED_PER_EVENT] for event_id, ids in shown.items()}
    labels = referral_labels(
        organization=request.organization, referral_ids={rid for ids in named.values() for rid in ids}
    )
    query = request.GET.copy()
    query.pop("before", None)
    return render(
        request,
        "audit/search.html",
        {
            "form": form,
            "rows": [
                EventRow(
                    event=event,
                    person=_person(event),
                    referrals=" ".join(labels.get(rid, "") for rid in named.get(event.pk, [])),
                    unnamed=len(shown.get(event.pk, [])) - len(named.get(event.pk, [])),
                )
                for event in rows
            ],
            "older": rows[-1].seq if more else None,
            "query": query.urlencode(),
            "searched": bool(request.GET),
        },
    )


def _csv_rows(request: OrganizationRequest, form: AccessSearchForm) -> Iterator[list]:
    if form.is_bound and not form.is_valid():
        return
    for chunk in _chunks(
        selectors.access_events_in_chunks(organization=request.organization, search=form.search())
    ):
        labels = referral_labels(
            organization=request.organization, referral_ids={rid for _, ids in chunk for rid in ids}
        )
        for event, ids in chunk:
            yield [
                timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M:%S %Z"),
                _person(event),
                event.user.username if event.user else "",
                event.get_kind_display(),
                event.path_name,
                f"{event.object_type} {event.object_id}" if event.object_type else "",
                " ".join(labels.get(rid, "") for rid in ids),
                event.ip_address or "",
                event.detail,
                event.seq,
                event.hash,
            ]


def _chunks(
    pairs: Iterator[tuple[AccessEvent, list[int]]], size: int = selectors.EXPORT_CHUNK
) -> Iterator[list[tuple[AccessEvent, list[int]]]]:
    chunk: list[tuple[AccessEvent, list[int]]] = []
    for pair in pairs:
        chunk.append(pair)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@records_access(kind=AccessKind.EXPORT)
@staff_view(roles=ADMINS)
def export(request: OrganizationRequest) -> StreamingHttpResponse:
    """The search's events as CSV, every one of them, formula-safe; the export is itself an event."""
    form = _search_form(request)
    filename = f"rapport-access-audit-{person_today(request.membership):%Y-%m-%d}.csv"
    return csv_download(filename=filename, header=EXPORT_HEADER, rows=_csv_rows(request, form))
