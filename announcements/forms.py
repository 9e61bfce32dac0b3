from django import forms

from clinics.models import Organization, Population
from config.ids import id_from_input
from config.text import SingleLineField

from .models import ServiceAnnouncement
from .selectors import announcement_specialty_choices
from .services import NO_AUDIENCE


class IdListField(forms.Field):
    """Ids carried in hidden inputs; anything that is not an id a row can have is a form error."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[int]:
        ids = [id_from_input(raw) for raw in value or []]
        valid = [pk for pk in ids if pk is not None]
        if len(valid) < len(ids):
            raise forms.ValidationError("This form is incomplete. Reload the page and try again.")
        return valid


class AnnouncementForm(forms.Form):
    subject = SingleLineField(max_length=ServiceAnnouncement._meta.get_field("subject").max_length)
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
    populations = forms.ModelMultipleChoiceField(
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
