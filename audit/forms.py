from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from accounts.models import User
from clinics.form_pages import StyledForm
from clinics.models import Membership, Organization
from config.days import DayField
from config.text import SingleLineField

from .models import AccessKind, AuditSettings
from .naming import referral_find
from .selectors import AccessSearch


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.get_full_name() or obj.username


class AccessSearchForm(StyledForm, forms.Form):
    """The audit search: a referral by its number, a person, a kind, days (in the reader's zone)."""

    compact = True

    referral = SingleLineField(
        label="Referral #",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    user = PersonChoiceField(
        label="Person", queryset=User.objects.none(), required=False, empty_label="Anyone"
    )
    kind = forms.ChoiceField(label="Kind", choices=[("", "Any kind"), *AccessKind.choices], required=False)
    since = DayField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = DayField(label="To (inclusive)", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.fields["user"].queryset = User.objects.filter(
            pk__in=Membership.objects.filter(organization=organization).values("user_id")
        ).order_by("last_name", "first_name", "username")

    def clean_referral(self) -> int | None:
        text = self.cleaned_data["referral"].strip()
        if not text:
            return None
        referral_id = referral_find(organization=self.organization, text=text)
        if referral_id is None:
            raise forms.ValidationError(f"No referral #{text.lstrip('#')} in your organization.")
        return referral_id

    def clean(self):
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until < since:
            self.add_error("until", "The last day comes after the first.")
        return cleaned

    def search(self) -> AccessSearch:
        """The search the valid form describes; days start at midnight in the reader's zone."""
        data: dict[str, Any] = self.cleaned_data if self.is_bound and self.is_valid() else {}
        since, until = data.get("since"), data.get("until")
        user = data.get("user")
        return AccessSearch(
            referral_id=data.get("referral"),
            user_id=user.pk if user else None,
            kind=data.get("kind") or "",
            since=_midnight(since) if since else None,
            until=_midnight(until + timedelta(days=1)) if until else None,
        )


def _midnight(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class AuditSettingsForm(forms.ModelForm):
    """The audit trail's section of the Organization settings page."""

    class Meta:
        model = AuditSettings
        fields = ("retention_years",)
