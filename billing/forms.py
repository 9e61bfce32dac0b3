from django import forms
from django.core.exceptions import ValidationError

from accounts.models import User
from clinics.form_pages import StyledForm
from clinics.models import Clinic, Organization, Payer, Role
from config.ids import ID_MAX
from config.text import SingleLineField

from .codes import format_procedure_codes, parse_procedure_codes
from .mapping import REQUIRED, TARGETS, mapping_problems
from .models import ImportKind, Payment, Visit
from .reading import ENCODINGS
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


class ImportUploadForm(StyledForm, forms.Form):
    submit_label = "Upload"

    kind = forms.ChoiceField(label="Report", choices=ImportKind.choices, widget=forms.RadioSelect)
    file = forms.FileField(
        label="CSV file",
        help_text="The report as your EMR or practice-management system exports it.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv"}),
    )
    encoding = forms.ChoiceField(
        choices=[("", "Detect it"), *ENCODINGS.items()],
        required=False,
        help_text="Leave “Detect it” unless accented names come out wrong.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not (upload.name or "").lower().endswith((".csv", ".txt")):
            raise ValidationError("Choose a CSV file (.csv or .txt).")
        return upload


class MappingForm(StyledForm, forms.Form):
    """One choice of column per field of Rapport; the page shows the report's first lines beside it.

    Its fields depend on the report: build it with `mapping_form`.
    """

    submit_label = "Save the mapping and import"

    def __init__(self, *args, kind: str, header: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.kind, self.header = kind, header

    def clean(self):
        cleaned = super().clean() or {}
        problems = mapping_problems(self.kind, self.mapping_of(cleaned), self.header)
        if problems:
            raise ValidationError(problems)
        return cleaned

    @staticmethod
    def mapping_of(cleaned: dict) -> dict[str, str]:
        return {name: heading for name, heading in cleaned.items() if heading}

    def mapping(self) -> dict[str, str]:
        return self.mapping_of(self.cleaned_data)


def mapping_form(data, *, kind: str, header: list[str], mapping: dict[str, str]) -> MappingForm:
    """A MappingForm for this report: a choice among its columns for each field, preset to `mapping`."""
    columns = [("", "— not in this report —"), *((cell, cell) for cell in dict.fromkeys(header) if cell)]
    required = set(REQUIRED[ImportKind(kind)])
    fields = {
        target.name: forms.ChoiceField(
            label=target.label + (" (required)" if target.name in required else ""),
            choices=columns,
            required=False,
            initial=mapping.get(target.name, ""),
        )
        for target in TARGETS[ImportKind(kind)]
    }
    form_class = type("ReportMappingForm", (MappingForm,), fields)
    return form_class(data, kind=kind, header=header)


class ReviewResolveForm(forms.Form):
    """Which referral an unmatched row belongs to: a candidate picked, or a referral number typed."""

    referral = forms.IntegerField(required=False, min_value=1, max_value=ID_MAX)
    dismiss = forms.BooleanField(required=False)

    def clean(self):
        cleaned = super().clean() or {}
        if not cleaned.get("dismiss") and not cleaned.get("referral"):
            raise ValidationError("Choose the referral, or dismiss the row.")
        return cleaned
