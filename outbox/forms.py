from django import forms

from clinics.form_pages import StyledForm

from .models import EmailStatus, kind_label


class EmailLogFilterForm(StyledForm, forms.Form):
    compact = True

    status = forms.ChoiceField(choices=[("", "Any status"), *EmailStatus.choices], required=False)
    kind = forms.ChoiceField(required=False)

    def __init__(self, *args, kinds: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "Any kind"), *((kind, kind_label(kind)) for kind in kinds)]
