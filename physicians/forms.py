from crispy_forms.layout import Column, Field, Fieldset, Layout, Row
from django import forms
from django.db.models import Q, QuerySet

from accounts.models import User
from clinics.form_pages import ConfirmsDuplicates, StyledForm
from clinics.models import Clinic, Organization, Payer, Population
from clinics.phones import PhoneFormField, without_extension
from config.text import SingleLineField

from .models import Gatekeeper, Physician, Practice, Stage, Tier
from .roles import DIRECTORY_EDITORS
from .selectors import (
    PHYSICIAN_SORTS,
    PhysicianFilters,
    physician_answers_to,
    physician_search,
    physicians_named,
)
from .services import GATEKEEPER_FIELDS, PHYSICIAN_FIELDS, PRACTICE_FIELDS, PhysicianFields
from .taxonomy import SPECIALTY_CHOICES


def staff_choices(
    organization: Organization, roles: frozenset[str] = DIRECTORY_EDITORS, *, former_staff: bool = False
) -> QuerySet[User]:
    """The organization's people in `roles`; with `former_staff`, deactivated ones too.

    A source owner who left still owns their sources until someone reassigns
    them, so the filters by owner offer them. One filter() call, so the
    conditions hold for the same membership (a user has one per organization).
    """
    conditions = Q(memberships__organization=organization, memberships__role__in=roles)
    if not former_staff:
        conditions &= Q(memberships__is_active=True)
    return User.objects.filter(conditions).order_by("first_name", "last_name")


PHYSICIAN_QUERY_MAX_LENGTH = 200
# The physicians a name that is not a full name may have meant, offered in its error.
SUGGESTED_MAX = 3


def resolve_typed_physician(form: forms.BaseForm, organization: Organization) -> None:
    """Without JavaScript, the physician is whatever was typed into the typeahead's text box.

    The typeahead posts the chosen physician's id in `physician` and their name
    in `q`; without JavaScript only `q` changes. So when `q` was sent and does
    not name the physician in `physician`, the text wins: empty means no
    physician, anything else must name exactly one physician of the
    organization (full name or NPI). A request without `q` (a link, the
    attention page's quick form) keeps `physician` as sent.
    """
    if "q" not in form.data or "physician" in form.errors or "q" in form.errors:
        return
    chosen = form.cleaned_data.get("physician")
    query = form.cleaned_data.get("q", "").strip()
    if chosen is not None and physician_answers_to(chosen, query):
        return
    if not query:
        form.cleaned_data["physician"] = None
        return
    matches = physicians_named(organization=organization, query=query)
    if len(matches) == 1:
        form.cleaned_data["physician"] = matches[0]
    elif matches:
        form.add_error(
            "physician", f"{len(matches)} physicians are called “{query}”: type the NPI of the one you mean."
        )
    # What the typeahead would have offered, had Enter waited for it (or had JavaScript run).
    elif suggested := physician_search(organization=organization, query=query, limit=SUGGESTED_MAX):
        names = " or ".join(physician.name_with_npi for physician in suggested)
        form.add_error(
            "physician",
            f"No physician in your directory is called “{query}”. Did you mean {names}? "
            "Choose from the suggestions, or type the full name or the NPI.",
        )
    else:
        form.add_error(
            "physician",
            f"No physician in your directory is called “{query}”: type their full name or their NPI.",
        )


class PhysicianForm(ConfirmsDuplicates, forms.ModelForm):
    taxonomy_code = forms.ChoiceField(
        label="Specialty", choices=[("", "—"), *SPECIALTY_CHOICES], required=False
    )
    primary_practice = forms.ModelChoiceField(
        queryset=Practice.objects.none(), required=False, help_text="Where they mostly see patients."
    )
    other_practices = forms.ModelMultipleChoiceField(
        queryset=Practice.objects.none(), required=False, widget=forms.SelectMultiple(attrs={"size": 5})
    )
    confirm_duplicate_label = "This is a different person; save anyway"
    submit_label = "Save physician"

    class Meta:
        model = Physician
        fields = PHYSICIAN_FIELDS
        widgets = {"what_matters": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        practices = Practice.objects.for_organization(organization).filter(is_active=True).order_by("name")
        self.fields["primary_practice"].queryset = practices
        self.fields["other_practices"].queryset = practices
        self.fields["owner"].queryset = staff_choices(organization)
        self.fields["owner"].label = "Owner (liaison)"
        code = self.instance.taxonomy_code
        if code and code not in dict(SPECIALTY_CHOICES):
            self.fields["taxonomy_code"].choices += [(code, code)]
        if self.instance.pk:
            affiliations = list(self.instance.affiliations.all())
            primary = next((a.practice_id for a in affiliations if a.is_primary), None)
            self.initial["primary_practice"] = primary
            self.initial["other_practices"] = [a.practice_id for a in affiliations if not a.is_primary]
        self.helper.layout = Layout(
            Fieldset(
                "Who",
                Row(
                    Column("prefix", css_class="col-md-2"),
                    Column("first_name"),
                    Column("middle_name"),
                    Column("last_name"),
                ),
                Row(
                    Column("credential", css_class="col-md-3"),
                    Column("taxonomy_code"),
                    Column("npi", css_class="col-md-3"),
                ),
            ),
            Fieldset("Where", Row(Column("primary_practice"), Column("other_practices"))),
            Fieldset(
                "Keeping them informed",
                Row(Column("update_channel"), Column("update_rhythm")),
                Row(Column("phone"), Column("email")),
                "what_matters",
            ),
            Fieldset("Relationship", Row(Column("tier"), Column("contact_every_days"), Column("owner"))),
        )

    def physician_fields(self) -> PhysicianFields:
        return PhysicianFields.from_cleaned_data(self.cleaned_data)

    def practices(self) -> list[Practice]:
        """Where they work, the primary practice first."""
        primary = self.cleaned_data["primary_practice"]
        others = list(self.cleaned_data["other_practices"])
        return ([primary] if primary else []) + [p for p in others if p != primary]


class StageForm(StyledForm, forms.Form):
    compact = True
    stage = forms.ChoiceField(choices=Stage.choices)
    note = SingleLineField(max_length=300, required=False, help_text="Why, in a few words (optional).")


class PracticeForm(StyledForm, forms.ModelForm):
    populations = forms.ModelMultipleChoiceField(
        queryset=Population.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The patients this practice mostly treats.",
    )
    payers = forms.ModelMultipleChoiceField(
        queryset=Payer.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Payers the practice accepts.",
    )

    submit_label = "Save practice"

    class Meta:
        model = Practice
        fields = (*PRACTICE_FIELDS, "populations", "payers")
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["payers"].queryset = Payer.objects.for_organization(organization).filter(is_active=True)
        self.helper.layout = Layout(
            "name",
            Row(Column("address_line1"), Column("address_line2")),
            Row(
                Column("city"),
                Column("state", css_class="col-md-2"),
                Column("postal_code", css_class="col-md-3"),
            ),
            Row(Column("phone"), Column("fax"), Column("website")),
            Row(Column(Field("populations")), Column(Field("payers"))),
            "notes",
        )


class GatekeeperForm(StyledForm, forms.ModelForm):
    # An extension typed after the number ("303-555-0142 x12") moves to its own field.
    phone = PhoneFormField(required=False, extension_allowed=True)
    submit_label = "Save gatekeeper"

    class Meta:
        model = Gatekeeper
        fields = GATEKEEPER_FIELDS
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper.layout = Layout(
            Row(Column("first_name"), Column("last_name"), Column("role")),
            Row(Column("phone"), Column("extension", css_class="col-md-2"), Column("email")),
            "preferred_contact",
            "notes",
            "is_active",
        )

    def clean(self):
        cleaned = self.cleaned_data
        super().clean()
        number, typed_extension = cleaned.get("phone"), cleaned.get("extension", "")
        if number and number.extension:
            if typed_extension and typed_extension != number.extension:
                self.add_error(
                    "extension",
                    f"The number ends in extension {number.extension}: "
                    "keep one extension, here or after the number.",
                )
            else:
                cleaned["extension"] = number.extension
                cleaned["phone"] = without_extension(number)
        return cleaned


class MergeForm(StyledForm, forms.Form):
    submit_label = "Merge and delete the duplicate"

    duplicate = forms.ModelChoiceField(
        queryset=Physician.objects.none(),
        widget=forms.HiddenInput,
        error_messages={"required": "Find and pick the duplicate record first."},
    )

    def __init__(self, *args, keep: Physician, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["duplicate"].queryset = (
            Physician.objects.for_organization(keep.organization)
            .exclude(pk=keep.pk)
            .order_by("last_name", "first_name")
        )


ACTIVE_CHOICES = [("yes", "Active"), ("no", "Inactive"), ("all", "All")]


class PhysicianFilterForm(StyledForm, forms.Form):
    compact = True

    q = SingleLineField(
        label="Search",
        required=False,
        widget=forms.SearchInput(attrs={"placeholder": "Name, NPI, practice or city"}),
    )
    stage = forms.ChoiceField(choices=[("", "Any stage"), *Stage.choices], required=False)
    tier = forms.ChoiceField(choices=[("", "Any tier"), *Tier.choices], required=False)
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False, empty_label="Any owner")
    specialty = forms.ChoiceField(choices=[("", "Any specialty"), *SPECIALTY_CHOICES], required=False)
    payer = forms.ModelChoiceField(queryset=Payer.objects.none(), required=False, empty_label="Any payer")
    active = forms.ChoiceField(choices=ACTIVE_CHOICES, required=False)
    sort = forms.ChoiceField(
        choices=[
            ("name", "Name"),
            ("-created", "Newest"),
            ("stage", "Stage"),
            ("tier", "Tier"),
            ("specialty", "Specialty"),
        ],
        required=False,
    )
    clinic = forms.ModelChoiceField(
        queryset=Clinic.objects.none(), required=False, empty_label=None, label="Fit with clinic"
    )

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = staff_choices(organization)
        self.fields["payer"].queryset = Payer.objects.for_organization(organization).filter(is_active=True)
        self.fields["clinic"].queryset = Clinic.objects.for_organization(organization).filter(is_active=True)

    def filters(self) -> PhysicianFilters:
        data = self.cleaned_data if self.is_valid() else {}
        active = data.get("active") or "yes"
        sort = data.get("sort") or ""
        owner = data.get("owner")
        return PhysicianFilters(
            query=data.get("q", ""),
            stage=data.get("stage", ""),
            tier=data.get("tier", ""),
            owner_id=owner.pk if owner else None,
            taxonomy_code=data.get("specialty", ""),
            payer=data.get("payer"),
            active={"yes": True, "no": False}.get(active),
            sort=sort if sort in PHYSICIAN_SORTS else "",
        )


class NppesUploadForm(StyledForm, forms.Form):
    submit_label = "Upload and import"

    file = forms.FileField(
        label="NPPES file (CSV)",
        help_text="The “npidata_pfile” CSV from the NPPES Data Dissemination download, or an extract of it.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    states = SingleLineField(
        required=False,
        help_text="Two-letter codes separated by spaces or commas, e.g. CO WY. Empty: every state.",
    )
    taxonomies = SingleLineField(
        label="Specialties (taxonomy codes)",
        required=False,
        help_text="NUCC codes or their beginnings, e.g. 207X for all orthopaedic surgery. "
        "Empty: the usual referring specialties.",
    )

    @staticmethod
    def _codes(value: str) -> list[str]:
        return [code.strip().upper() for code in value.replace(",", " ").split() if code.strip()]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".txt")):
            raise forms.ValidationError("Upload the CSV file itself (unzip the NPPES download first).")
        return upload

    def clean_states(self) -> list[str]:
        states = self._codes(self.cleaned_data["states"])
        bad = [state for state in states if len(state) != 2 or not state.isalpha()]
        if bad:
            raise forms.ValidationError(f"Use two-letter state codes; not understood: {', '.join(bad)}.")
        return states

    def clean_taxonomies(self) -> list[str]:
        codes = self._codes(self.cleaned_data["taxonomies"])
        bad = [code for code in codes if len(code) > 10 or not code.isalnum()]
        if bad:
            raise forms.ValidationError(
                f"Taxonomy codes are up to 10 letters and digits; check {', '.join(bad)}."
            )
        return codes
