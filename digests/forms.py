from typing import Any

from django import forms

from clinics.form_pages import StyledForm

from .content import sections_for
from .models import DigestPreference


class DigestPreferenceForm(StyledForm, forms.ModelForm):
    """Day, hour, on or off, and the sections of the person's role they want."""

    sections = forms.MultipleChoiceField(
        label="Sections",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Empty sections are always left out.",
    )

    class Meta:
        model = DigestPreference
        fields = ["enabled", "weekday", "hour"]

    def __init__(self, *args: Any, role: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.section_keys = [section.value for section in sections_for(role)]
        field = self.fields["sections"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(section.value, section.label) for section in sections_for(role)]
        if not self.is_bound:
            self.initial["sections"] = [
                key for key in self.section_keys if key not in self.instance.sections_off
            ]

    def sections_off(self) -> list[str]:
        chosen = set(self.cleaned_data["sections"])
        return [key for key in self.section_keys if key not in chosen]
