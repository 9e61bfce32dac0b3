"""How pages declare what they show, and how each response that shows patient data is recorded.

1. A view that can show patient data is wrapped in `@records_access(...)`; one
   that never does is marked `@shows_no_patient_data("why")`. The URL walk
   (`tests/audit/test_every_page.py`) fails for a view marked neither, so a
   new page cannot forget.
2. While a recorded view runs, every referral it loads from the database is
   noted (referrals connects its model's `post_init` to `note_referral_loaded`):
   a list page notes the rows of the page it displays, a referral's page that
   referral, a physician's page the referrals in its timeline. Loaded is what
   the response was built from, so it is what the person could see.
3. Once the view has returned a successful response (2xx) and before it is
   sent, one event is written (`services.access_record`) naming those
   referrals and the object the address names (a document, a letter, an
   export). If the write fails, the exception replaces the response: the
   person gets an error page, never the data without its record.
   Redirects and errors write nothing: they show no data.
"""

from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, Protocol, cast

from axes.helpers import get_client_ip_address
from django.http import HttpRequest, HttpResponseBase

from .models import AccessKind
from .services import Access, access_record


@dataclass
class _Shown:
    """What the running view has loaded: referral ids by organization (None: loaded without it)."""

    referrals: dict[int | None, set[int]] = field(default_factory=dict)


_shown: ContextVar[_Shown | None] = ContextVar("audit_shown", default=None)


def note_referral_loaded(*, organization_id: int | None, referral_id: int | None) -> None:
    """Called for every referral loaded from the database; counts only inside a recorded view."""
    shown = _shown.get()
    if shown is not None and referral_id is not None:
        shown.referrals.setdefault(organization_id, set()).add(referral_id)


def note_shown(*, organization_id: int, referral_ids: Iterable[int]) -> None:
    """For a page that shows a referral's patient from elsewhere than its row (a letter's stored content)."""
    for referral_id in referral_ids:
        note_referral_loaded(organization_id=organization_id, referral_id=referral_id)


@dataclass(frozen=True)
class RecordsAccess:
    kind: AccessKind
    # The URL keyword naming the object opened (`document_id`), and what it is.
    object_kwarg: str = ""
    object_type: str = ""


@dataclass(frozen=True)
class ShowsNoPatientData:
    reason: str


class AuditedView(Protocol):
    audit_access: RecordsAccess | ShowsNoPatientData

    def __call__(self, request: HttpRequest, /, *args: Any, **kwargs: Any) -> HttpResponseBase: ...


def _organization_of(request: HttpRequest, shown: _Shown) -> int | None:
    """The signed-in member's organization; for a signed link (a letter), the one whose referral it showed."""
    organization = getattr(request, "organization", None)
    if organization is not None:
        return cast(int, organization.pk)
    known = [organization_id for organization_id in shown.referrals if organization_id is not None]
    return known[0] if len(known) == 1 else None


def _record(request: HttpRequest, declared: RecordsAccess, shown: _Shown, kwargs: dict[str, Any]) -> None:
    organization_id = _organization_of(request, shown)
    if organization_id is None:
        # Nobody's page and no patient's data: a signed link that no longer opens anything.
        return
    match = request.resolver_match
    user = request.user if request.user.is_authenticated else None
    object_id = kwargs.get(declared.object_kwarg) if declared.object_kwarg else None
    access_record(
        organization=organization_id,
        access=Access(
            kind=declared.kind,
            user=user,
            ip_address=get_client_ip_address(request),
            path_name=match.view_name if match else "",
            object_type=declared.object_type if object_id is not None else "",
            object_id=object_id,
            # Only this organization's referrals (another's is never loaded for a member's page), and
            # those loaded without their organization, which only a scoped query can have read.
            referral_ids=frozenset(
                shown.referrals.get(organization_id, set()) | shown.referrals.get(None, set())
            ),
        ),
    )


def records_access(
    *, kind: AccessKind = AccessKind.PAGE, object_kwarg: str = "", object_type: str = ""
) -> Callable[[Callable[..., HttpResponseBase]], AuditedView]:
    """Writes one access event for every successful response of the view (see the module's steps)."""
    declared = RecordsAccess(kind=kind, object_kwarg=object_kwarg, object_type=object_type)

    def decorator(view: Callable[..., HttpResponseBase]) -> AuditedView:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if _shown.get() is not None:
                # Called from another recorded view: that one writes the event.
                return view(request, *args, **kwargs)
            shown = _Shown()
            token = _shown.set(shown)
            try:
                response = view(request, *args, **kwargs)
                if 200 <= response.status_code < 300:
                    _record(request, declared, shown, kwargs)
            finally:
                _shown.reset(token)
            return response

        audited = cast(AuditedView, wrapper)
        audited.audit_access = declared
        return audited

    return decorator


def shows_no_patient_data(reason: str) -> Callable[[Callable[..., HttpResponseBase]], AuditedView]:
    """Marks a view that never shows patient data; the URL walk checks it loads no referral."""
    declared = ShowsNoPatientData(reason)

    def decorator(view: Callable[..., HttpResponseBase]) -> AuditedView:
        audited = cast(AuditedView, view)
        audited.audit_access = declared
        return audited

    return decorator
