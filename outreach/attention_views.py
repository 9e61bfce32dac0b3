from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from clinics.tenancy import staff_view

from .flags import last_contact_at, sources_needing_attention
from .models import FlagKind, TouchKind
from .roles import RUNS_OUTREACH

PAGE_SIZE = 30
# The kinds a liaison logs in one click from the list; the full form has the rest.
QUICK_TOUCH_KINDS = [TouchKind.CALL, TouchKind.OFFICE_VISIT, TouchKind.EMAIL, TouchKind.LUNCH]


class AttentionFilterForm(forms.Form):
    kind = forms.ChoiceField(label="Signal", choices=[("", "All signals"), *FlagKind.choices], required=False)
    mine = forms.BooleanField(label="Only my sources", required=False)
    due_soon = forms.BooleanField(label="Include contact due soon", required=False)


@staff_view(roles=RUNS_OUTREACH)
def attention(request: HttpRequest) -> HttpResponse:
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
    for physician in page.object_list:
        physician.last_contact_at = last_contact_at(physician)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "outreach/attention.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "quick_kinds": [(kind.value, kind.label) for kind in QUICK_TOUCH_KINDS],
            "this_page": request.get_full_path(),
        },
    )
