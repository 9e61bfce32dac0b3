import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import User
from clinics.form_pages import StyledForm
from clinics.models import Organization
from config.days import DayField
from config.text import SingleLineField
from physicians.forms import PHYSICIAN_QUERY_MAX_LENGTH, resolve_typed_physician, staff_choices
from physicians.models import Affiliation, Gatekeeper, Physician, Practice
from physicians.taxonomy import SPECIALTY_CHOICES

from .models import OutreachSettings, TouchKind, TouchOutcome
from .roles import OUTREACH
from .selectors import TouchFilters
from .services import (
    EARLIEST_TOUCH_DATE,
    TOUCH_TOO_EARLY_MESSAGE,
    follow_up_latest,
    follow_up_too_far_message,
    touch_too_early,
)

# Announcements log their own touches, one per recipient; the form is for conversations.
FORM_KINDS = [(value, label) for value, label in TouchKind.choices if value != TouchKind.SERVICE_ANNOUNCEMENT]
# Clocks disagree by a little; a touch logged "now" on a slow laptop is not in the future.
CLOCK_SLACK = datetime.timedelta(minutes=5)
SNOOZE_DAYS = [(1, "1 day"), (3, "3 days"), (7, "1 week")]


def _makers(organization: Organization):
    """Who may have made a touch: active outreach colleagues here.

    One filter() call, so the three conditions hold for the same membership: a
    user active in another organization, or front desk here, is not offered.
    """
    return User.objects.filter(
        memberships__organization=organization, memberships__is_active=True, memberships__role__in=OUTREACH
    ).order_by("first_name", "last_name", "username")


def _members(organization: Organization):
    # Former staff stay in: their touches are still history. A user has one membership per organization.
    return User.objects.filter(memberships__organization=organization).order_by(
        "first_name", "last_name", "username"
    )


class GatekeeperChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Gatekeeper) -> str:
        return f"{obj} — {obj.practice.name}"


class TouchForm(StyledForm, forms.Form):
    """Logs a touch; only a party and the kind are needed, the rest has sensible defaults."""

    submit_label = "Save touch"

    physician = forms.ModelChoiceField(
        queryset=Physician.objects.none(), required=False, widget=forms.HiddenInput
    )
    # The typeahead's text box: the physician's name or NPI when typed without JavaScript.
    q = SingleLineField(label="Physician", required=False, max_length=PHYSICIAN_QUERY_MAX_LENGTH)
    practice = forms.ModelChoiceField(
        queryset=Practice.objects.none(),
        required=False,
        empty_label="—",
        help_text="Where you met them, or a whole office: it counts for everyone whose main practice it is.",
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
    follow_up_note = SingleLineField(label="Next step", max_length=300, required=False)
    next = SingleLineField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, organization: Organization, user: User, today: datetime.date, **kwargs):
        """`today`: the signed-in person's (clinics/clock.py), from which a follow-up is planned."""
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.user = user
        self.today = today
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
        self.fields["made_by"].queryset = _makers(organization)
        self.fields["physician"].error_messages["invalid_choice"] = "Choose a physician from your directory."
        # The browser's date pickers show the limits clean_* enforces.
        self.fields["follow_up_on"].widget.attrs.update(
            min=self.today.isoformat(), max=follow_up_latest(today=self.today).isoformat()
        )
        self.fields["occurred_at"].widget.attrs["min"] = f"{EARLIEST_TOUCH_DATE.isoformat()}T00:00"

    def offer_practices_of(self, physician: Physician) -> None:
        """Lists the physician's own practices first: any other practice is refused with them."""
        practices = list(self.fields["practice"].queryset)
        theirs = set(
            Affiliation.objects.filter(organization=self.organization, physician=physician).values_list(
                "practice_id", flat=True
            )
        )
        first = [(p.pk, p.name) for p in practices if p.pk in theirs]
        if first:
            self.fields["practice"].choices = [
                ("", "—"),
                (f"{physician.display_name}’s practices", first),
                ("Other practices", [(p.pk, p.name) for p in practices if p.pk not in theirs]),
            ]

    def clean_occurred_at(self) -> datetime.datetime:
        occurred_at = self.cleaned_data.get("occurred_at") or timezone.now()
        if touch_too_early(occurred_at):
            raise ValidationError(TOUCH_TOO_EARLY_MESSAGE)
        if occurred_at > timezone.now() + CLOCK_SLACK:
            raise ValidationError("A touch is something that happened; plan what is next as a follow-up.")
        return occurred_at

    def clean_made_by(self) -> User:
        return self.cleaned_data.get("made_by") or self.user

    def clean_follow_up_on(self) -> datetime.date | None:
        follow_up_on = self.cleaned_data.get("follow_up_on")
        today = self.today
        if follow_up_on and follow_up_on < today:
            raise ValidationError("Choose today or a later date.")
        if follow_up_on and follow_up_on > follow_up_latest(today=today):
            raise ValidationError(follow_up_too_far_message(today=today))
        return follow_up_on

    def clean(self) -> dict:
        super().clean()
        cleaned = self.cleaned_data
        resolve_typed_physician(self, self.organization)
        parties = ("physician", "practice", "gatekeeper")
        if not any(cleaned.get(name) or name in self.errors for name in parties):
            self.add_error("physician", "Choose a physician, a practice or a gatekeeper.")
        if cleaned.get("follow_up_note") and not cleaned.get("follow_up_on"):
            self.add_error("follow_up_on", "Choose when to follow up.")
        return cleaned

    def service_arguments(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.fields if name not in ("next", "q")}


class TouchFilterForm(StyledForm, forms.Form):
    compact = True
    kind = forms.ChoiceField(choices=[("", "Any kind"), *TouchKind.choices], required=False)
    made_by = forms.ModelChoiceField(queryset=User.objects.none(), required=False, empty_label="Anyone")
    physician = forms.ModelChoiceField(
        queryset=Physician.objects.none(), required=False, widget=forms.HiddenInput
    )
    # The physician typeahead's text box, resolved as on the touch form when JavaScript is off.
    q = SingleLineField(label="Physician", required=False, max_length=PHYSICIAN_QUERY_MAX_LENGTH)
    named_only = forms.BooleanField(label="Only touches naming the physician", required=False)
    practice = forms.ModelChoiceField(
        queryset=Practice.objects.none(), required=False, empty_label="Any practice"
    )
    since = DayField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = DayField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    owner = forms.ModelChoiceField(
        label="Physician's owner", queryset=User.objects.none(), required=False, empty_label="Any owner"
    )
    specialty = forms.ChoiceField(
        label="Physician's specialty", choices=[("", "Any specialty"), *SPECIALTY_CHOICES], required=False
    )

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.fields["made_by"].queryset = _members(organization)
        self.fields["physician"].queryset = Physician.objects.for_organization(organization)
        self.fields["physician"].error_messages["invalid_choice"] = "Choose a physician from your directory."
        self.fields["practice"].queryset = Practice.objects.for_organization(organization).order_by("name")
        self.fields["owner"].queryset = staff_choices(organization, former_staff=True)

    def clean(self) -> dict:
        super().clean()
        cleaned = self.cleaned_data
        resolve_typed_physician(self, self.organization)
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "Choose a day on or after the first one.")
        return cleaned

    def filters(self) -> TouchFilters | None:
        """The filters asked for; None when they are invalid, so the list shows nothing rather than all."""
        if not self.is_bound:
            return TouchFilters()
        if not self.is_valid():
            return None
        data = self.cleaned_data
        return TouchFilters(
            kind=data.get("kind") or "",
            made_by_id=data["made_by"].pk if data.get("made_by") else None,
            physician_id=data["physician"].pk if data.get("physician") else None,
            physician_named_only=bool(data.get("named_only")),
            practice_id=data["practice"].pk if data.get("practice") else None,
            since=data.get("since"),
            until=data.get("until"),
            owner_id=data["owner"].pk if data.get("owner") else None,
            specialty=data.get("specialty") or "",
        )


class SnoozeForm(forms.Form):
    """Snooze by a number of days (the buttons) or to a chosen date; `until` is the new due date."""

    days = forms.TypedChoiceField(choices=SNOOZE_DAYS, coerce=int, required=False)
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, due_on: datetime.date, today: datetime.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.due_on = due_on
        self.today = today

    def clean(self) -> dict:
        """`days` counts from the later of today and the due date; a chosen date is taken as it is."""
        super().clean()
        cleaned = self.cleaned_data
        if self.errors:
            return cleaned
        latest = follow_up_latest(today=self.today)
        if cleaned.get("days"):
            start = max(self.due_on, self.today)
            # Checked before adding: a due date from before dates were limited may be near date.max.
            if start > latest:
                raise ValidationError(follow_up_too_far_message(today=self.today))
            cleaned["until"] = start + datetime.timedelta(days=cleaned["days"])
        if not cleaned.get("until"):
            raise ValidationError("Choose how long to snooze, or a date.")
        if cleaned["until"] > latest:
            raise ValidationError(follow_up_too_far_message(today=self.today))
        return cleaned


class OutreachSettingsForm(forms.ModelForm):
    """The cadences' section of the Organization settings page."""

    class Meta:
        model = OutreachSettings
        fields = ("cadence_tier_a_days", "cadence_tier_b_days", "cadence_tier_c_days")


class FollowUpTouchForm(forms.Form):
    """The touch a done follow-up stood for: the kind is the button pressed, the note is optional."""

    kind = forms.ChoiceField(choices=FORM_KINDS)
    notes = SingleLineField(required=False, max_length=1000)
