from django import forms
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.core.exceptions import ValidationError
from django.utils.functional import cached_property

from config.text import SingleLineField, validate_single_line

from .form_pages import StyledForm
from .models import (
    Clinic,
    Membership,
    Organization,
    Payer,
    Population,
    Role,
    SecuritySettings,
    ServiceOffering,
)
from .services import CLINIC_FIELDS, staff_username

US_TIMEZONES = [
    ("America/New_York", "Eastern (New York)"),
    ("America/Detroit", "Eastern (Detroit)"),
    ("America/Indiana/Indianapolis", "Eastern (Indianapolis)"),
    ("America/Chicago", "Central (Chicago)"),
    ("America/Denver", "Mountain (Denver)"),
    ("America/Boise", "Mountain (Boise)"),
    ("America/Phoenix", "Mountain, no daylight saving (Phoenix)"),
    ("America/Los_Angeles", "Pacific (Los Angeles)"),
    ("America/Anchorage", "Alaska (Anchorage)"),
    ("Pacific/Honolulu", "Hawaii (Honolulu)"),
    ("America/Puerto_Rico", "Atlantic (Puerto Rico)"),
]


def _timezone_choices(current: str) -> list[tuple[str, str]]:
    """The US zones, and the one saved if it is another (set in the admin, say), so saving keeps it."""
    if current and current not in dict(US_TIMEZONES):
        return [*US_TIMEZONES, (current, current)]
    return US_TIMEZONES


class ClinicForm(StyledForm, forms.ModelForm):
    submit_label = "Save clinic"

    timezone = forms.ChoiceField(
        label="Time zone",
        choices=US_TIMEZONES,
        help_text="Used for business days and due times at this location.",
    )

    payers = forms.ModelMultipleChoiceField(
        queryset=Payer.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Payers accepted",
        help_text="Fit scores compare these with the payers each practice accepts.",
    )

    class Meta:
        model = Clinic
        fields = (*CLINIC_FIELDS, "payers")

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["payers"].queryset = Payer.objects.for_organization(organization).filter(is_active=True)
        if self.instance.pk is None:
            self.initial.setdefault("timezone", organization.timezone)


class StaffCreateForm(StyledForm, forms.Form):
    submit_label = "Add staff member"

    first_name = SingleLineField(max_length=150)
    last_name = SingleLineField(max_length=150)
    email = forms.EmailField(required=False, help_text="Used for password resets and digests.")
    username = forms.RegexField(
        regex=r"^[\w.+-]+\Z",
        max_length=100,
        error_messages={"invalid": "Use letters, digits and . + - _ only."},
        validators=[validate_single_line],
    )
    role = forms.ChoiceField(choices=Role.choices)
    home_clinic = forms.ModelChoiceField(queryset=Clinic.objects.none(), required=False)
    password = forms.CharField(
        label="Initial password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html(),
    )

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["home_clinic"].queryset = Clinic.objects.for_organization(organization)
        self.username_prefix = prefix = staff_username(organization=organization, name="")
        self.fields["username"].help_text = f"They sign in with it after “{prefix}”, e.g. {prefix}rquinn."

    def clean_username(self) -> str:
        """The name after the prefix: one typed with the prefix, as the example shows it, gets it once."""
        typed = self.cleaned_data["username"]
        prefix = self.username_prefix
        name = typed[len(prefix) :] if typed.lower().startswith(prefix.lower()) else typed
        if not name:
            raise ValidationError(f"Type the name that follows “{prefix}”.")
        return name


class MembershipForm(StyledForm, forms.ModelForm):
    submit_label = "Save"

    timezone = forms.ChoiceField(
        label="Time zone",
        required=False,
        help_text="Their today: follow-ups due, their calendar, the times they see.",
    )

    class Meta:
        model = Membership
        fields = ("role", "home_clinic", "timezone")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["home_clinic"].queryset = Clinic.objects.for_organization(self.instance.organization)
        self.fields["timezone"].choices = [
            ("", "Their home clinic's, else the organization's"),
            *_timezone_choices(self.instance.timezone),
        ]


class PayerForm(StyledForm, forms.ModelForm):
    submit_label = "Save payer"

    class Meta:
        model = Payer
        fields = ("name", "category", "is_active")


class ServiceOfferingForm(StyledForm, forms.ModelForm):
    submit_label = "Save service"

    populations = forms.ModelMultipleChoiceField(
        queryset=Population.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Who this program serves; fit and announcements match on these.",
    )

    class Meta:
        model = ServiceOffering
        fields = ("clinic", "name", "description", "populations", "is_active")
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = Clinic.objects.for_organization(organization)


class OrganizationForm(StyledForm, forms.ModelForm):
    """The organization's own section of the settings page (see settings_sections.py)."""

    # Not required: a settings post without it (a script, an older form) keeps the zone set.
    timezone = forms.ChoiceField(
        label="Time zone",
        required=False,
        help_text=Organization._meta.get_field("timezone").help_text,
    )

    class Meta:
        model = Organization
        fields = ("name", "timezone")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = _timezone_choices(self.instance.timezone)

    def clean_timezone(self) -> str:
        return self.cleaned_data["timezone"] or self.instance.timezone

    @cached_property
    def changed_data(self) -> list[str]:
        """A post without the zone keeps it: that is no change to save or record."""
        kept_zone = not self.data.get(self.add_prefix("timezone"))
        return [name for name in super().changed_data if not (name == "timezone" and kept_zone)]


class SecuritySettingsForm(forms.ModelForm):
    """The sign-in section of the Organization settings page."""

    class Meta:
        model = SecuritySettings
        fields = ("require_two_factor",)
