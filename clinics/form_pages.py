"""How a form looks and asks, the same in every app.

1. Every form mixes in `StyledForm`: its widgets get Bootstrap's classes
   (small ones in a filter bar, `compact = True`), whether crispy renders a
   field or a template renders it by hand; and it carries a crispy helper that
   renders fields only. The page (`templates/form_page.html`) owns the
   <form> tag, the errors and the buttons.
2. A form that may save a duplicate mixes in `ConfirmsDuplicates`: the view
   finds possible duplicates, and `needs_duplicate_confirmation` holds the
   form back once with the warning and a box to tick, which the page shows
   (`templates/_duplicate_warning.html`).
"""

from crispy_forms.helper import FormHelper
from django import forms

CONFIRM_DUPLICATE = "confirm_duplicate"
# Hidden, or lists whose every option is an input: crispy's templates style each option themselves.
_UNSTYLED = (forms.HiddenInput, forms.MultipleHiddenInput, forms.RadioSelect, forms.CheckboxSelectMultiple)


def _widget_classes(widget: forms.Widget, *, compact: bool) -> list[str]:
    if isinstance(widget, _UNSTYLED):
        return []
    if isinstance(widget, forms.CheckboxInput):
        return ["form-check-input"]
    if isinstance(widget, forms.Select):
        return ["form-select", "form-select-sm"] if compact else ["form-select"]
    return ["form-control", "form-control-sm"] if compact else ["form-control"]


class StyledForm(forms.BaseForm):
    """Bootstrap classes on every widget and a fields-only crispy helper; mix in before the Form class."""

    compact = False
    # The form page's button.
    submit_label = "Save"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            classes = widget.attrs.get("class", "").split()
            missing = [name for name in _widget_classes(widget, compact=self.compact) if name not in classes]
            if missing:
                widget.attrs["class"] = " ".join([*missing, *classes])
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True


class ConfirmsDuplicates(StyledForm):
    """A form that asks once before saving what may be a duplicate (a patient, a physician).

    The box to tick is not a field: it exists only next to the warning, so no
    layout has to leave it out and no hidden copy can confirm by accident.
    """

    confirm_duplicate_label = "This is not a duplicate; save it"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.duplicate_warning = ""

    @property
    def duplicate_confirmed(self) -> bool:
        return forms.CheckboxInput().value_from_datadict(self.data, self.files, CONFIRM_DUPLICATE)

    def needs_duplicate_confirmation(self, warning: str) -> bool:
        """True when `warning` (empty: no possible duplicate) is not confirmed yet; the page then shows it.

        A ticked box holds for the round trips that follow (an error
        elsewhere), so the user is not asked twice.
        """
        if not warning or self.duplicate_confirmed:
            return False
        self.duplicate_warning = warning
        return True
