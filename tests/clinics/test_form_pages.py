"""One way to style a form, one page skeleton, one "possible duplicate, please confirm" step."""

from pathlib import Path

from django import forms
from django.conf import settings
from django.template.loader import render_to_string

from clinics.form_pages import ConfirmsDuplicates, StyledForm


class Sample(StyledForm, forms.Form):
    name = forms.CharField()
    kind = forms.ChoiceField(choices=[("a", "A")])
    agree = forms.BooleanField(required=False)
    secret = forms.CharField(widget=forms.HiddenInput)
    colours = forms.MultipleChoiceField(choices=[("r", "Red")], widget=forms.CheckboxSelectMultiple)
    code = forms.CharField(widget=forms.TextInput(attrs={"class": "font-monospace"}))


class CompactSample(Sample):
    compact = True


class Person(ConfirmsDuplicates, forms.Form):
    name = forms.CharField()


def classes(form: forms.Form) -> dict[str, str | None]:
    return {name: field.widget.attrs.get("class") for name, field in form.fields.items()}


def test_every_widget_gets_bootstraps_classes_and_keeps_its_own():
    assert classes(Sample()) == {
        "name": "form-control",
        "kind": "form-select",
        "agree": "form-check-input",
        "secret": None,
        "colours": None,
        "code": "form-control font-monospace",
    }


def test_a_filter_bar_gets_small_controls():
    assert classes(CompactSample())["name"] == "form-control form-control-sm"
    assert classes(CompactSample())["kind"] == "form-select form-select-sm"


def test_the_helper_renders_fields_only_for_the_page_to_wrap():
    helper = Sample().helper

    assert (helper.form_tag, helper.disable_csrf) == (False, True)


def test_no_form_styles_its_widgets_by_hand():
    apps = [app for app in settings.INSTALLED_APPS if (Path(settings.BASE_DIR) / app / "forms.py").exists()]

    for app in apps:
        source = (Path(settings.BASE_DIR) / app / "forms.py").read_text()
        assert "form-control" not in source, app
        assert "form-select" not in source, app
        assert "FormHelper(" not in source, app


def test_a_possible_duplicate_holds_the_form_once_and_a_tick_lets_it_through():
    first = Person({"name": "Ada"})
    assert first.is_valid()
    assert not first.needs_duplicate_confirmation("")
    assert first.needs_duplicate_confirmation("Ada is already here.")
    page = render_to_string("_duplicate_warning.html", {"form": first})
    assert "Ada is already here." in page
    assert 'type="checkbox" name="confirm_duplicate"' in page

    confirmed = Person({"name": "Ada", "confirm_duplicate": "on"})
    assert confirmed.is_valid()
    assert not confirmed.needs_duplicate_confirmation("Ada is already here.")
    # The tick survives a round trip for another error without asking again.
    assert 'type="hidden" name="confirm_duplicate" value="on"' in render_to_string(
        "_duplicate_warning.html", {"form": confirmed}
    )
