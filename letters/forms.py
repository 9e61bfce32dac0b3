from django import forms

from clinics.form_pages import StyledForm

from .models import LetterKind, LetterSettings, LetterStatus


class LetterSettingsForm(forms.ModelForm):
    """The letters' section of the Organization settings page."""

    class Meta:
        model = LetterSettings
        fields = ("review_before_sending", "loop_days", "link_valid_days")


class LetterTextForm(StyledForm, forms.Form):
    """The parts of a letter a reviewer writes; the facts (visits, scores, NPS) are composed."""

    submit_label = "Save the letter"

    findings = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        max_length=4000,
        help_text="What the evaluation or the latest visits found.",
    )
    plan = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        max_length=4000,
        help_text="The plan of care: goals, frequency, what comes next.",
    )
    note = forms.CharField(
        label="Note to the physician",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=2000,
        help_text="Optional: a personal word, a question, a request.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


class LetterFilterForm(StyledForm, forms.Form):
    compact = True

    kind = forms.ChoiceField(choices=[("", "Any kind"), *LetterKind.choices], required=False)
    status = forms.ChoiceField(choices=[("", "Any state"), *LetterStatus.choices], required=False)
    physician = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)
