"""The retention page: what the next nightly run would remove (the dry run), and past runs. Admins only."""

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from audit.recording import records_access
from clinics.roles import ADMINS
from clinics.tenancy import OrganizationRequest, staff_view

from .retention.selectors import patient_details_removals, referrals_past_retention, retention_closed_before
from .selectors import referral_settings_get

# Enough to recognise what is coming; the total is counted in full.
PREVIEW_ROWS = 100
RUNS_SHOWN = 20


@records_access()
@staff_view(roles=ADMINS)
def retention(request: OrganizationRequest) -> HttpResponse:
    organization = request.organization
    rules = referral_settings_get(organization=organization)
    now = timezone.now()
    due = referrals_past_retention(organization=organization, rules=rules, now=now).select_related(
        "physician", "clinic"
    )
    return render(
        request,
        "referrals/retention.html",
        {
            "rules": rules,
            "closed_before": retention_closed_before(organization=organization, rules=rules, now=now),
            "due_count": due.count(),
            "due": due[:PREVIEW_ROWS],
            "runs": patient_details_removals(organization=organization)[:RUNS_SHOWN],
        },
    )
