import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils.formats import date_format

from accounts.models import User
from clinics.clock import clinic_zone, current_today
from clinics.form_pages import ConfirmsDuplicates, StyledForm
from clinics.models import Clinic, Organization, Payer, Role
from config.days import DayField
from config.text import SingleLineField
from physicians.forms import PHYSICIAN_QUERY_MAX_LENGTH, resolve_typed_physician
from physicians.identifiers import validate_npi
from physicians.models import Physician, Practice
from physicians.services import PhysicianFields
from physicians.taxonomy import taxonomy_label

from . import list_filters, services
from .attachments import sniff
from .diagnoses import CODES_OFFERED, Diagnosis, diagnosis_lookup, normalize_icd10, unknown_code_message
from .models import (
    CONTACT_OUTCOMES,
    PATIENT_FIELDS,
    ContactAttempt,
    ContactMethod,
    LossReason,
    PendingDocument,
    PlanOfCare,
    Referral,
    ReferralSettings,
    SourceType,
    Status,
)
from .selectors import APPOINTMENT_PASSED, MISSING_CHOICES
from .services import (
    PLAN_FIELDS,
    REFERRAL_FIELDS,
    ContactAttemptFields,
    FirstAppointment,
    ReferralDetails,
    ReferralIntake,
)

# Common PT diagnoses offered as suggestions; any valid ICD-10-CM code is accepted.
COMMON_DIAGNOSES = [
    ("M54.50", "Low back pain, unspecified"),
    ("M54.59", "Other low back pain"),
    ("M54.2", "Cervicalgia"),
    ("M54.12", "Radiculopathy, cervical"),
    ("M54.16", "Radiculopathy, lumbar"),
    ("M48.061", "Spinal stenosis, lumbar"),
    ("M17.11", "Osteoarthritis, right knee"),
    ("M17.12", "Osteoarthritis, left knee"),
    ("M16.11", "Osteoarthritis, right hip"),
    ("M16.12", "Osteoarthritis, left hip"),
    ("M75.101", "Rotator cuff tear, right shoulder"),
    ("M75.102", "Rotator cuff tear, left shoulder"),
    ("M75.41", "Impingement, right shoulder"),
    ("M75.42", "Impingement, left shoulder"),
    ("M75.01", "Adhesive capsulitis, right shoulder"),
    ("M75.02", "Adhesive capsulitis, left shoulder"),
    ("M25.511", "Pain in right shoulder"),
    ("M25.512", "Pain in left shoulder"),
    ("M25.561", "Pain in right knee"),
    ("M25.562", "Pain in left knee"),
    ("M25.551", "Pain in right hip"),
    ("M25.552", "Pain in left hip"),
    ("S83.511A", "ACL sprain, right knee, initial"),
    ("S83.512A", "ACL sprain, left knee, initial"),
    ("S93.401A", "Ankle sprain, right, initial"),
    ("S93.402A", "Ankle sprain, left, initial"),
    ("M72.2", "Plantar fasciitis"),
    ("M76.61", "Achilles tendinitis, right"),
    ("M76.62", "Achilles tendinitis, left"),
    ("M77.11", "Lateral epicondylitis, right"),
    ("M77.12", "Lateral epicondylitis, left"),
    ("S13.4XXA", "Whiplash, initial"),
    ("Z47.1", "Aftercare after joint replacement"),
    ("Z96.651", "Presence of right artificial knee"),
    ("Z96.652", "Presence of left artificial knee"),
    ("Z96.641", "Presence of right artificial hip"),
    ("Z96.642", "Presence of left artificial hip"),
    ("R42", "Dizziness"),
    ("H81.11", "BPPV, right ear"),
    ("H81.12", "BPPV, left ear"),
    ("R26.2", "Difficulty walking"),
    ("R26.81", "Unsteadiness on feet"),
    ("R26.89", "Other gait abnormalities"),
    ("Z91.81", "History of falling"),
    ("M62.81", "Muscle weakness, generalized"),
    ("G89.29", "Other chronic pain"),
    ("N39.3", "Stress incontinence"),
    ("N39.41", "Urge incontinence"),
    ("N39.46", "Mixed incontinence"),
    ("I69.351", "Hemiplegia after stroke, right dominant side"),
]


class DiagnosisCodesField(forms.CharField):
    """Codes typed in one box, separated by commas, semicolons or spaces, in any case, the dot optional.

    Cleaned, a list of ICD-10-CM codes written one way ("M54.50"), each once;
    a code that is not in the ICD-10-CM list is refused, naming it.
    """

    def to_python(self, value: str | None) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [code for code in re.split(r"[,;\s]+", text) if code]

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        unknown = [code for code in value if diagnosis_lookup(code) is None]
        if unknown:
            raise ValidationError([unknown_code_message(code) for code in unknown], code="unknown_code")

    def clean(self, value) -> list[str]:
        return list(dict.fromkeys(normalize_icd10(code) for code in super().clean(value)))

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value


@dataclass(frozen=True)
class HeaderCode:
    """A header code typed in the diagnoses ("M54.5"), with the choice made for it so far."""

    diagnosis: Diagnosis
    # A billable code beneath it, the header itself to keep it as written, or "" before a choice.
    choice: str

    @property
    def choice_name(self) -> str:
        return f"diagnosis_choice_{self.diagnosis.code}"

    @property
    def offered(self) -> tuple[Diagnosis, ...]:
        return self.diagnosis.billable_codes[:CODES_OFFERED]

    @property
    def more(self) -> int:
        return len(self.diagnosis.billable_codes) - len(self.offered)


class ChecksDiagnosisCodes:
    """A form whose `diagnosis_codes` may hold header codes: it asks once which billable code each means.

    Like `ConfirmsDuplicates`: the view holds the form back with the question
    while a header has no answer (`needs_diagnosis_choice`); the answers are
    not fields but radio buttons next to the question
    (`referrals/_diagnosis_choices.html`), shown again with the answers made on
    any later round trip. Choosing a billable code replaces the header;
    choosing the header keeps it as written, when the order says no more (the
    referral's page then marks it "not billable"). A header the referral
    already had is not asked about again.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.header_codes: list[HeaderCode] = []
        self.codes_kept_before: frozenset[str] = frozenset()

    def clean_diagnosis_codes(self) -> list[str]:
        codes = []
        for code in self.cleaned_data["diagnosis_codes"]:
            diagnosis = diagnosis_lookup(code)
            if diagnosis is None or diagnosis.billable or code in self.codes_kept_before:
                codes.append(code)
                continue
            header = HeaderCode(diagnosis=diagnosis, choice="")
            answer = self.data.get(header.choice_name, "")
            if answer == code or answer in {billable.code for billable in diagnosis.billable_codes}:
                header = HeaderCode(diagnosis=diagnosis, choice=answer)
            self.header_codes.append(header)
            codes.append(header.choice or code)
        return list(dict.fromkeys(codes))

    def needs_diagnosis_choice(self) -> bool:
        """True while a header code typed has no answer yet; the page then asks."""
        return any(not header.choice for header in self.header_codes)


class BirthDateField(forms.DateField):
    """Typed as text straight from the fax, not picked: the same in every browser and screen reader.

    US order, with slashes or dashes, or as 8 digits without them (03141962 is
    March 14, 1962). Digits alone must be 8: "3141962" could be March 14 or
    (with a digit lost) anything else, so it is refused rather than guessed.
    """

    def __init__(self, **kwargs):
        super().__init__(
            label="Date of birth",
            input_formats=["%m/%d/%Y", "%m-%d-%Y", "%Y-%m-%d"],
            widget=forms.DateInput(
                format="%m/%d/%Y",
                attrs={"placeholder": "MM/DD/YYYY", "inputmode": "numeric", "autocomplete": "off"},
            ),
            error_messages={"invalid": "Enter the date of birth as MM/DD/YYYY, or as 8 digits: MMDDYYYY."},
            **kwargs,
        )

    def to_python(self, value):
        typed = value.strip() if isinstance(value, str) else value
        if isinstance(typed, str) and typed.isdigit():
            if len(typed) != 8:
                raise ValidationError(self.error_messages["invalid"], code="invalid")
            typed = f"{typed[:2]}/{typed[2:4]}/{typed[4:]}"
        return super().to_python(typed)

    def validate(self, value: date) -> None:
        super().validate(value)
        if value and value > current_today():
            raise ValidationError("The date of birth is in the future.")


DOCUMENT_ACCEPT = ".pdf,.png,.jpg,.jpeg,.tif,.tiff,.gif,application/pdf,image/*"


class DocumentField(forms.FileField):
    """A referral document, checked by its content (PDF or image) and size."""

    widget = forms.FileInput(attrs={"accept": DOCUMENT_ACCEPT})

    def validate(self, value) -> None:
        super().validate(value)
        if value:
            sniff(value)


class ReferralForm(ChecksDiagnosisCodes, ConfirmsDuplicates, forms.ModelForm):
    physician = forms.ModelChoiceField(
        queryset=Physician.objects.none(), required=False, widget=forms.HiddenInput
    )
    # The typeahead's text box: the physician's name or NPI when typed without JavaScript.
    q = SingleLineField(label="Referring physician", required=False, max_length=PHYSICIAN_QUERY_MAX_LENGTH)
    # Without JavaScript, "Find" lists the physicians matching `q`; the one picked from that list wins.
    physician_pick = forms.ModelChoiceField(
        queryset=Physician.objects.none(), required=False, widget=forms.RadioSelect
    )
    diagnosis_codes = DiagnosisCodesField(
        label="Diagnoses (ICD-10-CM)",
        required=False,
        help_text="One or more codes, e.g. M54.50, M17.11; the dot is optional.",
        widget=forms.TextInput(attrs={"list": "common-diagnoses", "autocomplete": "off"}),
    )
    received_at = forms.DateTimeField(
        label="Received",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    patient_birth_date = BirthDateField()
    document = DocumentField(
        label="Referral document", required=False, help_text="The faxed order: PDF or image."
    )
    # A document attached to a form that came back (a warning, an error) is
    # kept server-side; the form carries only its random key.
    kept_document = forms.UUIDField(required=False, widget=forms.HiddenInput)
    remove_kept_document = forms.BooleanField(required=False)
    # A physician not in the directory yet, added with the referral.
    new_physician_first_name = SingleLineField(label="First name", required=False, max_length=100)
    new_physician_last_name = SingleLineField(label="Last name", required=False, max_length=100)
    new_physician_npi = SingleLineField(
        label="NPI (optional)", required=False, max_length=10, validators=[validate_npi]
    )
    confirm_duplicate_label = "This is a new referral for the same patient; save it"
    submit_label = "Save referral"

    class Meta:
        model = Referral
        fields = REFERRAL_FIELDS
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.kept: PendingDocument | None = None
        for name in ("physician", "physician_pick"):
            self.fields[name].queryset = Physician.objects.for_organization(organization)
            self.fields[name].error_messages["invalid_choice"] = "Choose a physician from your directory."
        self.fields["clinic"].queryset = Clinic.objects.for_organization(organization).filter(is_active=True)
        self.fields["clinic"].empty_label = None
        self.fields["payer"].queryset = Payer.objects.for_organization(organization).filter(is_active=True)
        self.fields["therapist"].queryset = User.objects.filter(
            memberships__organization=organization,
            memberships__is_active=True,
            memberships__role=Role.THERAPIST,
        ).order_by("first_name")

    def keep_document(self, *, user: User, refused: str | None = None) -> None:
        """Keeps the document chosen with this submit, or the one kept before, for the next round trip.

        `refused` says why a file sent with this submit never arrived (too large).
        """
        # Cleans the form: cleaned_data then holds every valid field, the document among them.
        self.is_valid()
        if refused:
            self.add_error("document", refused)
        try:
            self.kept = services.pending_document_resolve(
                organization=self.organization,
                user=user,
                upload=self.cleaned_data.get("document"),
                key=self.cleaned_data.get("kept_document"),
                remove=self.cleaned_data.get("remove_kept_document", False),
            )
        except ValidationError as error:
            self.add_error("document", error)

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        source = cleaned.get("source_type")
        new_name = cleaned.get("new_physician_last_name")
        if source == SourceType.PHYSICIAN:
            if cleaned.get("physician_pick"):
                cleaned["physician"] = cleaned["physician_pick"]
            elif not new_name:
                resolve_typed_physician(self, self.organization)
        found = cleaned.get("physician") or "physician" in self.errors
        if source == SourceType.PHYSICIAN and not found and not new_name:
            self.add_error("physician", "Find the referring physician, or add them below.")
        if source != SourceType.PHYSICIAN:
            cleaned["physician"] = None
        if new_name and not cleaned.get("new_physician_first_name"):
            self.add_error("new_physician_first_name", "Enter the physician's first name too.")
        return cleaned

    def _post_clean(self):
        # The physician may be created only when the referral is saved; the
        # model's own check runs in the service.
        if self.cleaned_data.get("new_physician_last_name") and not self.cleaned_data.get("physician"):
            return
        super()._post_clean()  # type: ignore[misc]  # ModelForm's, missing from the stubs

    def new_physician(self) -> PhysicianFields | None:
        if self.cleaned_data.get("physician") or not self.cleaned_data.get("new_physician_last_name"):
            return None
        return PhysicianFields(
            first_name=self.cleaned_data["new_physician_first_name"],
            last_name=self.cleaned_data["new_physician_last_name"],
            npi=self.cleaned_data["new_physician_npi"],
        )

    def referral_fields(self) -> ReferralIntake:
        return ReferralIntake.from_cleaned_data(self.cleaned_data)


class ReferralEditForm(ChecksDiagnosisCodes, StyledForm, forms.ModelForm):
    """Edits an existing referral, the patient's details included; `version` is the copy the user loaded."""

    version = forms.IntegerField(widget=forms.HiddenInput)
    patient_birth_date = BirthDateField()
    diagnosis_codes = DiagnosisCodesField(
        label="Diagnoses (ICD-10-CM)",
        required=False,
        widget=forms.TextInput(attrs={"list": "common-diagnoses", "autocomplete": "off"}),
    )

    class Meta:
        model = Referral
        fields = (
            *PATIENT_FIELDS,
            "clinic",
            "diagnosis_codes",
            "body_region",
            "payer",
            "priority",
            "therapist",
            "notes",
        )
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = Clinic.objects.for_organization(organization)
        self.fields["clinic"].empty_label = None
        self.fields["payer"].queryset = Payer.objects.for_organization(organization)
        self.fields["therapist"].queryset = User.objects.filter(
            memberships__organization=organization,
            memberships__is_active=True,
            memberships__role=Role.THERAPIST,
        )
        if not self.is_bound:
            self.initial["version"] = self.instance.version
        self.codes_kept_before = frozenset(self.instance.diagnosis_codes)

    def details(self) -> ReferralDetails:
        return ReferralDetails.from_cleaned_data(self.cleaned_data)

    def patient_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in PATIENT_FIELDS]

    def referral_fields(self) -> list[forms.BoundField]:
        return [field for field in self.visible_fields() if field.name not in PATIENT_FIELDS]


class ReferralDocumentForm(StyledForm, forms.Form):
    document = DocumentField(label="Add a document", help_text="A page faxed later: PDF or image.")


class TransitionForm(forms.Form):
    to_status = forms.ChoiceField(choices=Status.choices)
    loss_reason = forms.ChoiceField(choices=[("", "—"), *LossReason.choices], required=False)
    version = forms.IntegerField(required=False)


# The moves the list offers for many at once: scheduling books each referral's
# own appointment (the service refuses it in bulk, with the reason).
BULK_STATUSES = [(value, label) for value, label in Status.choices if value != Status.SCHEDULED]


class BulkTransitionForm(forms.Form):
    referrals = forms.ModelMultipleChoiceField(queryset=Referral.objects.none())
    to_status = forms.ChoiceField(choices=[("", "Move selected to…"), *Status.choices])
    loss_reason = forms.ChoiceField(choices=[("", "Reason if lost"), *LossReason.choices], required=False)

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["referrals"].queryset = Referral.objects.for_organization(organization)


class AppointmentForm(StyledForm, forms.Form):
    """The first appointment: a day and a time on the clinic's clock, at a clinic (the referral's by default).

    Typed as the clinic's wall clock shows it, wherever the person typing is:
    9:30 in Denver is 9:30 in Denver for a colleague in Boston too.
    """

    appointment_date = forms.DateField(
        label="First appointment",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": "Give the day of the first appointment.", "invalid": "Enter a date."},
    )
    appointment_time = forms.TimeField(
        label="Time",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        error_messages={"required": "Give the time of the first appointment.", "invalid": "Enter a time."},
    )
    appointment_clinic = forms.ModelChoiceField(
        label="Clinic",
        queryset=Clinic.objects.none(),
        empty_label=None,
        error_messages={"invalid_choice": "Choose one of your organization's clinics."},
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, organization: Organization, referral: Referral, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["appointment_clinic"].queryset = Clinic.objects.for_organization(organization).filter(
            is_active=True
        )
        booked, clinic = referral.first_appointment_at, referral.first_appointment_clinic or referral.clinic
        self.initial.setdefault("appointment_clinic", clinic.pk)
        self.initial.setdefault("version", referral.version)
        if booked is not None:
            local = booked.astimezone(clinic_zone(clinic))
            self.initial.setdefault("appointment_date", local.date())
            self.initial.setdefault("appointment_time", local.time())

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        day, at = cleaned.get("appointment_date"), cleaned.get("appointment_time")
        clinic = cleaned.get("appointment_clinic")
        if day and at and clinic:
            zone = clinic_zone(clinic)
            starts_at = datetime.combine(day, at, tzinfo=zone)
            # A wall-clock time skipped when the clocks go forward comes back as another time.
            wall_clock = starts_at.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
            if wall_clock != starts_at.replace(tzinfo=None):
                self.add_error(
                    "appointment_time",
                    f"{at:%H:%M} does not exist at {clinic.name} on that day: the clocks go forward.",
                )
            else:
                cleaned["starts_at"] = starts_at
        return cleaned

    def appointment(self) -> FirstAppointment:
        return FirstAppointment(
            starts_at=self.cleaned_data["starts_at"], clinic=self.cleaned_data["appointment_clinic"]
        )


class ContactAttemptForm(StyledForm, forms.ModelForm):
    """A try at reaching the patient: how, what came of it, a short note; now unless told otherwise."""

    attempted_at = forms.DateTimeField(
        label="When",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    class Meta:
        model = ContactAttempt
        fields = ContactAttemptFields.names()
        widgets = {
            "method": forms.RadioSelect,
            "note": forms.TextInput(
                attrs={"placeholder": "e.g. asked to call back after 3 pm", "autocomplete": "off"}
            ),
        }
        labels = {"method": "How", "outcome": "What came of it"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["outcome"].choices = [("", "Choose…"), *self.fields["outcome"].choices[1:]]
        self.fields["note"].help_text = "About the attempt, in a few words."

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        method, outcome = cleaned.get("method"), cleaned.get("outcome")
        if method and outcome and outcome not in CONTACT_OUTCOMES[method]:
            self.add_error("outcome", f"Not an outcome of a {ContactMethod(method).label.lower()}.")
        return cleaned

    def attempt(self) -> ContactAttemptFields:
        return ContactAttemptFields.from_cleaned_data(self.cleaned_data)


class PlanOfCareForm(StyledForm, forms.ModelForm):
    certifier = forms.ModelChoiceField(queryset=Physician.objects.none(), widget=forms.HiddenInput)

    class Meta:
        model = PlanOfCare
        fields = PLAN_FIELDS
        widgets = {name: forms.DateInput() for name in ("starts_on", "ends_on", "sent_on", "signed_on")}

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["certifier"].queryset = Physician.objects.for_organization(organization)
        self.fields["certifier"].error_messages["required"] = "Choose the physician who certifies the plan."
        self.fields["ends_on"].required = False
        self.fields["ends_on"].help_text = "Empty: the longest certification your organization allows."


class ReferralNumberField(forms.IntegerField):
    """A referral's number as staff say and write it: "12" or "#12"."""

    def to_python(self, value):
        return super().to_python(value.strip().lstrip("#") if isinstance(value, str) else value)


class ReferralFilterForm(StyledForm, forms.Form):
    compact = True

    number = ReferralNumberField(
        label="Referral #",
        required=False,
        min_value=1,
        error_messages={"invalid": "Type the referral's number, e.g. 12 or #12."},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "size": 6}),
    )
    status = forms.ChoiceField(choices=[("", "Any status"), *Status.choices], required=False)
    clinic = forms.ModelChoiceField(queryset=Clinic.objects.none(), required=False, empty_label="Any clinic")
    source = forms.ChoiceField(choices=[("", "Any source"), *SourceType.choices], required=False)
    physician = forms.ModelChoiceField(
        queryset=Physician.objects.none(), required=False, widget=forms.HiddenInput
    )
    therapist = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Any therapist"
    )
    payer = forms.ModelChoiceField(queryset=Payer.objects.none(), required=False, empty_label="Any payer")
    received_from = DayField(label="Received from", required=False, widget=forms.DateInput())
    received_to = DayField(label="to", required=False, widget=forms.DateInput())
    # A day in the organization's zone: the home page's "received today" leads here.
    received_on = DayField(required=False, widget=forms.HiddenInput)
    # Where a figure elsewhere (a physician's practice, analytics' dashboards)
    # leads: who the referral is attributed to, whose source it is, why it was
    # lost, and a period of the organization's days.
    practice = forms.ModelChoiceField(
        label="Referring practice", queryset=Practice.objects.none(), required=False, widget=forms.HiddenInput
    )
    specialty = forms.RegexField(
        label="Referring specialty", regex=r"^[0-9A-Z]{10}$", required=False, widget=forms.HiddenInput
    )
    owner = forms.ModelChoiceField(
        label="Source owner", queryset=User.objects.none(), required=False, widget=forms.HiddenInput
    )
    # A figure of the referrals with no specialty or no payer (analytics' "No payer recorded").
    missing = forms.ChoiceField(
        label="Not recorded",
        choices=[("", "Any"), *MISSING_CHOICES],
        required=False,
        widget=forms.HiddenInput,
    )
    loss_reason = forms.ChoiceField(
        label="Lost because",
        choices=[("", "Any"), *LossReason.choices],
        required=False,
        widget=forms.HiddenInput,
    )
    appointment = forms.ChoiceField(
        label="First appointment",
        choices=[("", "Any"), (APPOINTMENT_PASSED, "day over, evaluation not recorded")],
        required=False,
        widget=forms.HiddenInput,
    )
    received_since = DayField(label="Received on or after", required=False, widget=forms.HiddenInput)
    received_until = DayField(label="Received on or before", required=False, widget=forms.HiddenInput)
    # The organization's days, not the viewer's: shown as such.
    ORGANIZATION_DAYS = ("received_on", "received_since", "received_until")

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = Clinic.objects.for_organization(organization)
        self.fields["physician"].queryset = Physician.objects.for_organization(organization)
        self.fields["therapist"].queryset = User.objects.filter(
            memberships__organization=organization, memberships__role=Role.THERAPIST
        ).order_by("first_name")
        self.fields["payer"].queryset = Payer.objects.for_organization(organization)
        self.fields["practice"].queryset = Practice.objects.for_organization(organization)
        self.fields["owner"].queryset = User.objects.filter(memberships__organization=organization)
        for extra in list_filters.registered():
            self.fields[extra.name] = forms.ChoiceField(
                label=extra.label,
                choices=[("", "Any"), *extra.choices],
                required=False,
                widget=forms.HiddenInput,
            )

    def filters(self) -> dict:
        return {
            name: value for name, value in (self.cleaned_data if self.is_valid() else {}).items() if value
        }

    def hidden_filters(self) -> dict:
        """The filters a link set rather than the form's visible fields: the list names them in words."""
        return {
            name: value
            for name, value in self.filters().items()
            if isinstance(self.fields[name].widget, forms.HiddenInput) and name != "physician"
        }

    def description(self, filters: dict | None = None) -> str:
        """The filters in words, for people ("Status: Received · Received from Jan 1, 2025")."""
        labels = {"received_from": "Received from", "received_to": "Received until"}
        parts = []
        for name, value in (self.filters() if filters is None else filters).items():
            field = self.fields[name]
            if isinstance(value, date):
                shown = date_format(value, "M j, Y")
            elif name == "specialty":
                shown = taxonomy_label(value)
            elif isinstance(field, forms.ChoiceField) and not isinstance(field, forms.ModelChoiceField):
                shown = str(dict(cast(list[tuple[str, str]], field.choices)).get(value, value))
            else:
                shown = str(value)
            parts.append(f"{labels.get(name, field.label or name.capitalize())}: {shown}")
        return " · ".join(parts) or "All referrals"


class ReferralExportForm(StyledForm, forms.Form):
    """The export page's one question: whether the file may hold patient data."""

    include_patient_data = forms.BooleanField(
        required=False,
        label="Include patient details: names, dates of birth, phone numbers and email addresses",
        help_text=(
            "Tick only if you need them: the file then holds patient data. Keep it on a secure device, "
            "share it only with people allowed to see it, and delete it when you are done."
        ),
    )
    submit_label = "Export"


class ReferralSettingsForm(forms.ModelForm):
    """The referral rules' section of the Organization settings page."""

    class Meta:
        model = ReferralSettings
        fields = (
            "contact_sla_business_days",
            "unreachable_after_attempts",
            "poc_signature_days",
            "poc_certification_days",
            "patient_details_retention_years",
        )


class PatientSearchForm(StyledForm, forms.Form):
    """A patient's name and date of birth, as a caller or a fax gives them; sent by POST, never in a URL."""

    name = SingleLineField(
        label="Patient name",
        max_length=200,
        help_text="Last, first or first last; accents, punctuation and small misspellings do not matter.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    birth_date = BirthDateField()
    submit_label = "Find"

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if sum(c.isalpha() for c in name) < 2:
            raise ValidationError("Type at least two letters of the patient's name.")
        return name
