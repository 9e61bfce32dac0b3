from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.models import User
from audit.recording import shows_no_patient_data
from clinics.clock import local_day_bounds, organization_today, organization_zone, person_today
from clinics.tenancy import OrganizationRequest, staff_view
from physicians.models import Physician

from .flags import DECLINE_STAYS, last_contact_at, sources_needing_attention
from .forms import TouchForm
from .models import FlagKind, Touch, TouchKind
from .roles import RUNS_OUTREACH
from .selectors import latest_contacts_since
from .views import touch_log_from_form

PAGE_SIZE = 30
# The kinds a liaison logs in one click from the list; the full form has the rest.
QUICK_TOUCH_KINDS = [TouchKind.CALL, TouchKind.OFFICE_VISIT, TouchKind.EMAIL, TouchKind.LUNCH]
# "Called today by you": what a row says once someone has reached the source today.
DONE_TODAY: dict[str, str] = {
    TouchKind.CALL: "Called",
    TouchKind.OFFICE_VISIT: "Visited",
    TouchKind.EMAIL: "Emailed",
    TouchKind.LETTER: "Letter sent",
    TouchKind.LUNCH: "Lunch",
    TouchKind.IN_SERVICE: "In-service",
    TouchKind.EVENT: "Met at an event",
    TouchKind.GIFT: "Gift sent",
}
FILTER_PARAMETERS = ("kind", "mine", "due_soon", "page")


class AttentionFilterForm(forms.Form):
    kind = forms.ChoiceField(label="Signal", choices=[("", "All signals"), *FlagKind.choices], required=False)
    mine = forms.BooleanField(label="Only my sources", required=False)
    due_soon = forms.BooleanField(label="Include contact due soon", required=False)


def _done_today(touch: Touch, user: User) -> str:
    who = "you" if touch.made_by_id == user.pk else str(touch.made_by or "someone")
    return f"{DONE_TODAY.get(touch.kind, touch.get_kind_display())} today by {who}"


def _describe(sources: list[Physician], request: OrganizationRequest) -> None:
    """Adds each row's last contact and, when someone reached the source today, which touch (one query)."""
    # The organization's today, as the flags on the same rows count it.
    today_starts, _ = local_day_bounds(
        organization_today(request.organization), organization_zone(request.organization)
    )
    reached = latest_contacts_since(
        organization=request.organization, physician_ids=[source.pk for source in sources], since=today_starts
    )
    for source in sources:
        # Attributes the attention template reads, not model fields.
        source.last_contact_at = last_contact_at(source)  # type: ignore[attr-defined]
        touch = reached.get(source.pk)
        source.done_today = _done_today(touch, request.user) if touch else ""  # type: ignore[attr-defined]


def _filters_of(data: QueryDict) -> str:
    """The list's own parameters, as a query string: where a quick touch returns to."""
    kept = QueryDict(mutable=True)
    for name in FILTER_PARAMETERS:
        if name in data:
            kept.setlist(name, data.getlist(name))
    return kept.urlencode()


def _list_url(return_query: str) -> str:
    # Only the list's own parameters after its fixed path: never a way to another site.
    url = reverse("outreach:attention")
    return f"{url}?{return_query}" if return_query else url


def _row_context(return_query: str) -> dict:
    """What every row needs: the quick touch's kinds, the list to return to, why a decline stays."""
    return {
        "quick_kinds": [(kind.value, kind.label) for kind in QUICK_TOUCH_KINDS],
        "return_query": return_query,
        "return_url": _list_url(return_query),
        "decline_stays": DECLINE_STAYS,
    }


@shows_no_patient_data("sources flagged as slipping")
@staff_view(roles=RUNS_OUTREACH)
def attention(request: OrganizationRequest) -> HttpResponse:
    form = AttentionFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    sources = sources_needing_attention(
        organization=request.organization,
        now=timezone.now(),
        owner_id=request.user.pk if filters.get("mine") else None,
        kind=filters.get("kind") or None,
        include_due_soon=bool(filters.get("due_soon")),
    )
    page = Paginator(sources, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    _describe(page.object_list, request)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "outreach/attention.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            **_row_context(_filters_of(request.GET)),
        },
    )


@require_POST
@shows_no_patient_data("logs a touch on a flagged source")
@staff_view(roles=RUNS_OUTREACH)
def attention_log(request: OrganizationRequest) -> HttpResponse:
    """The one-click touch from a row: logs it now, by the signed-in person, and says what it changed.

    With htmx the row is answered in place, with the touch and why the source
    stays (or that it left the list); without JavaScript the same words are a
    message on the list, where the row shows the touch.
    """
    return_query = _filters_of(QueryDict(request.POST.get("return_query", "")))
    back = _list_url(return_query)
    form = TouchForm(
        request.POST,
        organization=request.organization,
        user=request.user,
        today=person_today(request.membership),
    )
    physician = form.cleaned_data.get("physician") if form.is_valid() else None
    if physician is None:
        messages.error(request, "Nothing was logged: choose a kind of touch for a source on the list.")
        return HttpResponseClientRedirect(back) if request.htmx else redirect(back)
    try:
        _, note = touch_log_from_form(request, form)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return HttpResponseClientRedirect(back) if request.htmx else redirect(back)
    if not request.htmx:
        messages.success(request, note)
        return redirect(back)
    listed = list(
        sources_needing_attention(organization=request.organization, now=timezone.now()).filter(
            pk=physician.pk
        )
    )
    _describe(listed, request)
    return render(
        request,
        "outreach/attention.html#source-row",
        {
            "physician": listed[0] if listed else physician,
            "listed": bool(listed),
            "note": note,
            **_row_context(return_query),
        },
    )
