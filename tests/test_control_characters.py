"""No text field of Rapport takes a control character where it does not belong.

Enumerates every CharField and TextField of the project's models and every
one-line text field of its forms, so a new one is covered the day it is added.
"""

import importlib

import pytest
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

from clinics.models import Organization
from config.text import project_models, validate_multi_line, validate_single_line

from .test_dependency_order import RAPPORT_APPS

SINGLE_LINE_REFUSED = [
    "Summit\r\nBcc: victim@example.com",
    "a\nb",
    "a\rb",
    "a\x00b",
    "a\tb",
    "a\x1bb",
    "a\x85b",
]
MULTI_LINE_KEPT = "First line\r\nsecond line\twith a tab"


def _text_fields():
    for model in project_models():
        for field in model._meta.get_fields():
            if isinstance(field, models.CharField | models.TextField):
                yield f"{model._meta.label}.{field.name}", field


def test_the_enumeration_covers_every_app_with_models():
    labels = {model._meta.app_label for model in project_models()}

    assert {"accounts", "clinics", "outbox", "physicians", "referrals", "outreach"} <= labels


def test_every_model_text_field_refuses_control_characters():
    unguarded = []
    for label, field in _text_fields():
        one_line = isinstance(field, models.CharField)
        try:
            field.run_validators("a\nb" if one_line else "a\x00b")
        except ValidationError as error:
            if "control_character" not in {e.code for e in error.error_list}:
                unguarded.append(label)
        else:
            unguarded.append(label)
        if (validate_single_line if one_line else validate_multi_line) not in field.validators:
            unguarded.append(label)

    assert len(dict(_text_fields())) > 50
    assert not unguarded, unguarded


def test_migrations_do_not_record_the_validators():
    field = Organization._meta.get_field("name")

    assert validate_single_line in field.validators
    assert validate_single_line not in field.deconstruct()[3].get("validators", [])


@pytest.mark.parametrize("value", SINGLE_LINE_REFUSED)
def test_single_line_refuses_each_control_character(value):
    with pytest.raises(ValidationError):
        validate_single_line(value)


def test_multi_line_keeps_line_breaks_and_tabs_but_not_other_controls():
    validate_multi_line(MULTI_LINE_KEPT)
    with pytest.raises(ValidationError):
        validate_multi_line("a\x00b")


def _project_forms():
    for app in RAPPORT_APPS:
        for path in sorted((settings.BASE_DIR / app).rglob("*.py")):
            if "migrations" not in path.parts and "management" not in path.parts:
                importlib.import_module(".".join(path.relative_to(settings.BASE_DIR).with_suffix("").parts))

    def subclasses(base):
        for form_class in base.__subclasses__():
            yield form_class
            yield from subclasses(form_class)

    return {f for f in subclasses(forms.BaseForm) if f.__module__.split(".")[0] in RAPPORT_APPS}


def _one_line_fields_not_a_models():
    for form_class in _project_forms():
        model = getattr(getattr(form_class, "_meta", None), "model", None)
        model_fields = {field.name for field in model._meta.get_fields()} if model else set()
        # A mixin such as StyledForm declares no fields of its own.
        for name, field in getattr(form_class, "base_fields", {}).items():
            one_line = isinstance(field, forms.CharField) and not isinstance(
                field.widget, forms.Textarea | forms.PasswordInput
            )
            if one_line and name not in model_fields:
                yield f"{form_class.__module__}.{form_class.__name__}.{name}", field


def test_every_one_line_form_field_that_is_not_a_models_refuses_control_characters():
    fields = dict(_one_line_fields_not_a_models())
    unguarded = []
    for label, field in fields.items():
        try:
            field.clean("ab\r\ncd")
        except ValidationError:
            continue
        unguarded.append(label)

    assert "clinics.forms.StaffCreateForm.first_name" in fields
    assert not unguarded, f"Use config.text.SingleLineField for: {unguarded}"


def test_an_organization_name_with_a_line_break_is_a_form_error(admin_client, summit):
    response = admin_client.post(
        reverse("clinics:organization_settings"),
        {
            "organization-name": "Summit\r\nBcc: someone@example.com",
            "referrals-contact_sla_business_days": 1,
            "referrals-unreachable_after_attempts": 3,
            "referrals-patient_details_retention_years": 7,
            "referrals-poc_signature_days": 30,
            "referrals-poc_certification_days": 90,
            "outreach-cadence_tier_a_days": 14,
            "outreach-cadence_tier_b_days": 30,
            "outreach-cadence_tier_c_days": 60,
            "letters-loop_days": 7,
            "letters-link_valid_days": 30,
            "audit-retention_years": 6,
        },
    )

    assert response.status_code == 200
    [form] = [form for section, form in response.context["sections"] if section.key == "organization"]
    assert "one line of text" in " ".join(form.errors["name"])
    summit.refresh_from_db()
    assert summit.name == "Summit Physical Therapy"
