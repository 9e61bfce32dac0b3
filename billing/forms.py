from django import forms
from django.core.exceptions import ValidationError

from accounts.models import User
from clinics.form_pages import StyledForm
from clinics.models import Clinic, Organization, Payer, Role
from config.text import SingleLineField

from .codes import format_procedure_codes, parse_procedure_codes
from .models import Payment, Visit
from .services import PaymentFields, VisitFields


class ProcedureCodesField(SingleLineField):
    """“97110x2, 97140”: CPT or HCPCS codes, each with its units if the visit counted them."""

    def to_python(self, value: str | None) -> list[dict]:  # type: ignore[override]
        return parse_procedure_codes(super().to_python(value) or "")

    def prepare_value(self, value):
        return format_procedure_codes(value) if isinstance(value, list) else value


class VisitForm(StyledForm, forms.ModelForm):
    procedure_codes = ProcedureCodesField(
        label="CPT/HCPCS codes",
        required=False,
        max_length=300,
        help_text="e.g. 97161, 97110x2 (x2: two units); optional.",
    )

    class Meta:
        model = Visit
        fields = VisitFields.names()
        widgets = {"service_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = Clinic.objects.for_organization(organization)
        self.fields["clinic"].empty_label = None
        self.fields["payer"].queryset = Payer.objects.for_organization(organization)
        self.fields["therapist"].queryset = User.objects.filter(
            memberships__organization=organization, memberships__role=Role.THERAPIST
        ).order_by("last_name", "first_name")
        self.fields["billed_amount"].min_value = 0

    def clean_billed_amount(self):
        amount = self.cleaned_data["billed_amount"]
        if amount is not None and amount < 0:
            raise ValidationError(
                "A visit's billed amount cannot be negative; record a credit as an adjustment."
            )
        return amount

    def visit_fields(self) -> VisitFields:
        return VisitFields.from_cleaned_data(self.cleaned_data)


class PaymentForm(StyledForm, forms.ModelForm):
    class Meta:
        model = Payment
        fields = PaymentFields.names()
        widgets = {"paid_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["payer"].queryset = Payer.objects.for_organization(organization)

    def clean(self):
        cleaned = super().clean() or {}
        if cleaned.get("amount") == 0:
            self.add_error("amount", "Enter an amount other than zero.")
        return cleaned

    def payment_fields(self) -> PaymentFields:
        return PaymentFields.from_cleaned_data(self.cleaned_data)
