from django import forms

from clinics.models import Organization, Population

from .models import ServiceAnnouncement
from .selectors import announcement_specialty_choices
from .services import NO_AUDIENCE

# The range of a 64-bit signed integer, the widest primary key any backend stores.
ID_MIN, ID_MAX = -(2**63), 2**63 - 1


class IdMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Refuses an id no row can have before it reaches the query: SQLite raises OverflowError on one."""

    def clean(self, value):
        for pk in value if isinstance(value, list | tuple) else ():
            try:
                number = int(str(pk))
            except ValueError:
                continue  # not a number at all: the parent's lookup refuses it
            if not ID_MIN <= number <= ID_MAX:
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": pk}
                )
        return super().clean(value)


class IdListField(forms.Field):
    """Ids carried in hidden inputs; anything that is not an id a row can have is a form error."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[int]:
        raws = [str(raw) for raw in value or []]
        if not all(raw.isascii() and raw.isdigit() and int(raw) <= ID_MAX for raw in raws):
            raise forms.ValidationError("This form is incomplete. Reload the page and try again.")
        return [int(raw) for raw in raws]


class AnnouncementForm(forms.Form):
    subject = forms.CharField(max_length=ServiceAnnouncement._meta.get_field("subject").max_length)
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="What the service is and who it helps. No patient details.",
    )
    taxonomy_codes = forms.MultipleChoiceField(
        label="Specialties",
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        help_text="Physicians with any of these specialties (how many active physicians have each).",
    )
    populations = IdMultipleChoiceField(
        label="Patient populations",
        queryset=Population.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        help_text="Physicians whose primary practice treats any of these patients.",
    )
    # Made once, when the form is first shown: sending the same form twice
    # finds the first announcement instead of sending again.
    request_key = forms.UUIDField(widget=forms.HiddenInput)
    # The earlier announcements the sender was shown and chose to send again after
    # (services.AnnouncementRepeat); read only with the "send again" button.
    repeat_of = IdListField(required=False)

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["taxonomy_codes"].choices = announcement_specialty_choices(organization=organization)

    def audience(self) -> tuple[list[str], list[int]]:
        """The chosen specialties and population ids, also from a form invalid elsewhere (for the preview)."""
        if not self.is_bound:
            return list(self.initial.get("taxonomy_codes", [])), [
                p.pk for p in self.initial.get("populations", [])
            ]
        self.is_valid()
        return (
            list(self.cleaned_data.get("taxonomy_codes", [])),
            [population.pk for population in self.cleaned_data.get("populations", [])],
        )

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        if not cleaned.get("taxonomy_codes") and not cleaned.get("populations"):
            raise forms.ValidationError(NO_AUDIENCE)
        return cleaned
