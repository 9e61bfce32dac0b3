from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth.password_validation import password_validators_help_text_html

from .models import Clinic, Membership, Organization, Payer, Population, Role, ServiceOffering
from .services import CLINIC_FIELDS

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


def _helper(submit_label: str) -> FormHelper:
    helper = FormHelper()
    helper.add_input(Submit("submit", submit_label))
    return helper


class ClinicForm(forms.ModelForm):
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
        self.helper = _helper("Save clinic")


class StaffCreateForm(forms.Form):
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    email = forms.EmailField(required=False, help_text="Used for password resets and digests.")
    username = forms.CharField(max_length=150, help_text="What they type to sign in.")
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
        self.helper = _helper("Add staff member")


class MembershipForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ("role", "home_clinic")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["home_clinic"].queryset = Clinic.objects.for_organization(self.instance.organization)
        self.helper = _helper("Save")


class PayerForm(forms.ModelForm):
    class Meta:
        model = Payer
        fields = ("name", "category", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("Save payer")


class ServiceOfferingForm(forms.ModelForm):
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
        self.helper = _helper("Save service")


class OrganizationForm(forms.ModelForm):
    """The organization's own section of the settings page (see settings_sections.py)."""

    class Meta:
        model = Organization
        fields = ("name",)
