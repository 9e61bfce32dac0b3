"""The dashboards' filters: a period of the organization's days, a clinic, a source owner, a specialty.

Every dashboard compares its period with the one of the same length just
before it, and every figure links to the referral list with the same
filters, which reproduces it (`DashboardFilters.list_url`).
"""

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, cast
from urllib.parse import urlencode

from django import forms
from django.db.models import Q, QuerySet
from django.urls import reverse

from accounts.models import User
from clinics.clock import organization_today
from clinics.form_pages import StyledForm
from clinics.models import Clinic, Organization
from config.days import DayField
from physicians.forms import staff_choices
from physicians.taxonomy import SPECIALTY_CHOICES
from referrals.selectors import MISSING_CHOICES

from .models import ReferralFact

DEFAULT_DAYS = 90
# Longer periods are a question for the export; three years keeps every figure quick.
MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class Period:
    """Days `start` to `end`, both included, in the organization's zone."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> "Period":
        """The period of the same length that ends the day before this one starts."""
        end = self.start - timedelta(days=1)
        return Period(start=end - timedelta(days=self.days - 1), end=end)

    def q(self, field: str = "received_on") -> Q:
        return Q(**{f"{field}__gte": self.start, f"{field}__lte": self.end})


@dataclass(frozen=True)
class DashboardFilters:
    organization: Organization
    period: Period
    today: date
    clinic: Clinic | None = None
    owner: User | None = None
    specialty: str = ""
    # A therapist's dashboards count their own caseload (the referrals they treat), set by the view.
    therapist: User | None = None

    @property
    def previous(self) -> "DashboardFilters":
        return replace(self, period=self.period.previous)

    def scope(self) -> Q:
        """The clinic, owner, specialty and therapist, as conditions on the facts (no period)."""
        q = Q()
        if self.clinic is not None:
            q &= Q(clinic_id=self.clinic.pk)
        if self.owner is not None:
            q &= Q(physician__owner_id=self.owner.pk)
        if self.specialty:
            q &= Q(specialty=self.specialty)
        if self.therapist is not None:
            q &= Q(therapist_id=self.therapist.pk)
        return q

    def facts(self) -> QuerySet[ReferralFact]:
        """The organization's facts within the filters, either period (each query says which)."""
        return ReferralFact.objects.for_organization(self.organization).filter(self.scope())

    def list_params(self, period: Period | None = None, /, **narrowing: object) -> dict[str, object]:
        params: dict[str, object] = {}
        chosen = self.period if period is None else period
        params["received_since"] = chosen.start.isoformat()
        params["received_until"] = chosen.end.isoformat()
        if self.clinic is not None:
            params["clinic"] = self.clinic.pk
        if self.owner is not None:
            params["owner"] = self.owner.pk
        if self.specialty:
            params["specialty"] = self.specialty
        if self.therapist is not None:
            params["therapist"] = self.therapist.pk
        params.update(narrowing)
        return params

    def list_url(self, period: Period | None = None, /, **narrowing: object) -> str:
        """The referral list showing exactly the referrals behind a figure of this period (or `period`).

        An empty specialty or payer ("No payer recorded") is the list's filter
        for what is missing; "" for any other empty narrowing, or two of them:
        the list has no filter for those, so such a figure links nowhere rather
        than to a list that would not reproduce it.
        """
        narrowing = _missing_as_filter(narrowing)
        if any(value in (None, "") for value in narrowing.values()):
            return ""
        return f"{reverse('referrals:list')}?{urlencode(self.list_params(period, **narrowing))}"

    def current_list_url(self, **narrowing: object) -> str:
        """The referral list for a figure of the state now (open referrals), whenever received."""
        narrowing = _missing_as_filter(narrowing)
        if any(value in (None, "") for value in narrowing.values()):
            return ""
        params = self.list_params(**narrowing)
        params.pop("received_since")
        params.pop("received_until")
        return f"{reverse('referrals:list')}?{urlencode(params)}"

    def touch_list_url(self, period: Period | None = None, /, **narrowing: object) -> str:
        """The touch list showing exactly the touches behind a figure of this period (or `period`).

        Touches have no clinic, so the clinic filter is not carried: the
        outreach figures do not narrow by it either.
        """
        chosen = self.period if period is None else period
        params: dict[str, object] = {"since": chosen.start.isoformat(), "until": chosen.end.isoformat()}
        if self.owner is not None:
            params["owner"] = self.owner.pk
        if self.specialty:
            params["specialty"] = self.specialty
        params.update(narrowing)
        return f"{reverse('outreach:touch_list')}?{urlencode(params)}"

    def query(self, **overrides: object) -> str:
        """These filters as the dashboards' own query string (to switch dashboards or export)."""
        params: dict[str, Any] = {"start": self.period.start.isoformat(), "end": self.period.end.isoformat()}
        if self.clinic is not None:
            params["clinic"] = self.clinic.pk
        if self.owner is not None:
            params["owner"] = self.owner.pk
        if self.specialty:
            params["specialty"] = self.specialty
        params.update(overrides)
        return urlencode({name: value for name, value in params.items() if value not in (None, "")})


def _missing_as_filter(narrowing: dict[str, object]) -> dict[str, object]:
    """An empty specialty or payer as the referral list's `missing` filter, when it is the only one empty."""
    empty = [name for name, value in narrowing.items() if value in (None, "")]
    if len(empty) != 1 or empty[0] not in dict(MISSING_CHOICES):
        return narrowing
    return {**{name: value for name, value in narrowing.items() if name != empty[0]}, "missing": empty[0]}


class DashboardFilterForm(StyledForm, forms.Form):
    compact = True

    start = DayField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = DayField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    clinic = forms.ModelChoiceField(queryset=Clinic.objects.none(), required=False, empty_label="All clinics")
    owner = forms.ModelChoiceField(
        label="Source owner", queryset=User.objects.none(), required=False, empty_label="Everyone's sources"
    )
    specialty = forms.ChoiceField(
        label="Specialty", choices=[("", "All specialties"), *SPECIALTY_CHOICES], required=False
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        cast(forms.ModelChoiceField, self.fields["clinic"]).queryset = Clinic.objects.for_organization(
            organization
        )
        cast(forms.ModelChoiceField, self.fields["owner"]).queryset = staff_choices(
            organization, former_staff=True
        )

    def shown_for(self, filters: DashboardFilters) -> "DashboardFilterForm":
        """The form showing the period in force, when it came empty (the default period)."""
        if not self.is_bound:
            self.initial = {"start": filters.period.start, "end": filters.period.end}
        return self

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        today = organization_today(self.organization)
        end = cleaned.get("end") or today
        start = cleaned.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise forms.ValidationError("The period must start on or before the day it ends.")
        if (end - start).days + 1 > MAX_DAYS:
            raise forms.ValidationError("Choose a period of at most three years.")
        cleaned["start"], cleaned["end"] = start, end
        return cleaned

    def dashboard_filters(self) -> DashboardFilters:
        """The filters chosen, or the last 90 days of everything when the form is empty or wrong."""
        today = organization_today(self.organization)
        if self.is_bound and self.is_valid():
            data = self.cleaned_data
            return DashboardFilters(
                organization=self.organization,
                period=Period(start=data["start"], end=data["end"]),
                today=today,
                clinic=data.get("clinic"),
                owner=data.get("owner"),
                specialty=data.get("specialty") or "",
            )
        return DashboardFilters(
            organization=self.organization,
            period=Period(start=today - timedelta(days=DEFAULT_DAYS - 1), end=today),
            today=today,
        )
