import datetime

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from clinics.models import Organization
from physicians.models import Gatekeeper, Physician, Practice

from .models import TouchKind, TouchOutcome
from .selectors import TouchFilters

User = get_user_model()

# Announcements log their own touches, one per recipient; the form is for conversations.
FORM_KINDS = [(value, label) for value, label in TouchKind.choices if value != TouchKind.SERVICE_ANNOUNCEMENT]
# Clocks disagree by a little; a touch logged "now" on a slow laptop is not in the future.
CLOCK_SLACK = datetime.timedelta(minutes=5)
SNOOZE_DAYS = [(1, "1 day"), (3, "3 days"), (7, "1 week")]


def _members(organization: Organization, *, active_only: bool):
    members = User.objects.filter(memberships__organization=organization)
    if active_only:
        members = members.filter(memberships__is_active=True)
    return members.order_by("first_name", "last_name", "username")


def _style(form: forms.Form, *, small: bool = False) -> None:
    select, control = (
        ("form-select form-select-sm", "form-control form-control-sm")
        if small
        else (
            "form-select",
            "form-control",
        )
    )
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.HiddenInput | forms.CheckboxInput | forms.RadioSelect):
            continue
        widget.attrs.setdefault("class", select if isinstance(widget, forms.Select) else control)


class GatekeeperChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Gatekeeper) -> str:
        return f"{obj} — {obj.practice.name}"


class TouchForm(forms.Form):
    """Logs a touch; only a party and the kind are needed, the rest has sensible defaults."""

    physician = forms.ModelChoiceField(
        queryset=Physician.objects.none(), required=False, widget=forms.HiddenInput
    )
    practice = forms.ModelChoiceField(
        queryset=Practice.objects.none(), required=False, empty_label="—", help_text="For a whole office."
    )
    gatekeeper = GatekeeperChoiceField(
        queryset=Gatekeeper.objects.none(),
        required=False,
        empty_label="—",
        help_text="The referral coordinator or office manager you spoke with.",
    )
    kind = forms.ChoiceField(choices=FORM_KINDS, widget=forms.RadioSelect)
    occurred_at = forms.DateTimeField(
        label="When",
        required=False,
        help_text="Empty means now.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    made_by = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, empty_label=None, label="Made by"
    )
    outcome = forms.ChoiceField(choices=[("", "—"), *TouchOutcome.choices], required=False)
    notes = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="About the relationship only: no patient details.",
    )
    follow_up_on = forms.DateField(
        label="Follow up on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="Optional. The follow-up goes to the person who made the touch.",
    )
    follow_up_note = forms.CharField(label="Next step", max_length=300, required=False)
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, organization: Organization, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["physician"].queryset = Physician.objects.for_organization(organization)
        self.fields["practice"].queryset = (
            Practice.objects.for_organization(organization).filter(is_active=True).order_by("name")
        )
        self.fields["gatekeeper"].queryset = (
            Gatekeeper.objects.for_organization(organization)
            .filter(is_active=True, practice__is_active=True)
            .select_related("practice")
            .order_by("practice__name", "last_name", "first_name")
        )
        self.fields["made_by"].queryset = _members(organization, active_only=True)
        self.fields["physician"].error_messages["invalid_choice"] = "Choose a physician from your directory."
        _style(self)

    def clean_occurred_at(self) -> datetime.datetime:
        occurred_at = self.cleaned_data.get("occurred_at") or timezone.now()
        if occurred_at > timezone.now() + CLOCK_SLACK:
            raise ValidationError("A touch is something that happened; plan what is next as a follow-up.")
        return occurred_at

    def clean_made_by(self) -> User:
        return self.cleaned_data.get("made_by") or self.user

    def clean_follow_up_on(self) -> datetime.date | None:
        follow_up_on = self.cleaned_data.get("follow_up_on")
        if follow_up_on and follow_up_on < timezone.localdate():
            raise ValidationError("Choose today or a later date.")
        return follow_up_on

    def clean(self) -> dict:
        cleaned = super().clean()
        parties = ("physician", "practice", "gatekeeper")
        if not any(cleaned.get(name) or name in self.errors for name in parties):
            self.add_error("physician", "Choose a physician, a practice or a gatekeeper.")
        if cleaned.get("follow_up_note") and not cleaned.get("follow_up_on"):
            self.add_error("follow_up_on", "Choose when to follow up.")
        return cleaned

    def service_arguments(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.fields if name != "next"}


class TouchFilterForm(forms.Form):
    kind = forms.ChoiceField(choices=[("", "Any kind"), *TouchKind.choices], required=False)
    made_by = forms.ModelChoiceField(queryset=User.objects.none(), required=False, empty_label="Anyone")
    physician = forms.ModelChoiceField(
        queryset=Physician.objects.none(), required=False, widget=forms.HiddenInput
    )
    practice = forms.ModelChoiceField(
        queryset=Practice.objects.none(), required=False, empty_label="Any practice"
    )

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        # Former staff stay in the filter: their touches are still history.
        self.fields["made_by"].queryset = _members(organization, active_only=False)
        self.fields["physician"].queryset = Physician.objects.for_organization(organization)
        self.fields["practice"].queryset = Practice.objects.for_organization(organization).order_by("name")
        _style(self, small=True)

    def filters(self) -> TouchFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return TouchFilters(
            kind=data.get("kind") or "",
            made_by_id=data["made_by"].pk if data.get("made_by") else None,
            physician_id=data["physician"].pk if data.get("physician") else None,
            practice_id=data["practice"].pk if data.get("practice") else None,
        )


class SnoozeForm(forms.Form):
    """Snooze by a number of days (the buttons) or to a chosen date."""

    days = forms.TypedChoiceField(choices=SNOOZE_DAYS, coerce=int, required=False)
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def until_date(self, *, due_on: datetime.date, today: datetime.date) -> datetime.date | None:
        """The new due date: `days` after the later of today and the due date, else the date chosen."""
        if not self.is_valid():
            return None
        if self.cleaned_data.get("days"):
            return max(due_on, today) + datetime.timedelta(days=self.cleaned_data["days"])
        return self.cleaned_data.get("until")
