"""Text people type never carries control characters into Rapport.

A carriage return or line feed in an organization's name broke every email
of that organization (the name is in the From header); in a subject, a
file name or a log line it splits what follows. So:

1. `validate_single_line` refuses every control character (Unicode category
   Cc: CR, LF, NUL, tab, escape, DEL, ...) and `validate_multi_line`
   refuses them except tab, CR and LF.
2. `apply_to_models()`, called once the app registry is ready, adds the
   first to every CharField and the second to every TextField of Rapport's
   own models. Every ModelForm runs them (through the model's full_clean)
   and shows the refusal beside the field, and so does every service that
   calls full_clean. A new model or field is covered the day it is added.
3. Form fields that are not a model's (a search box, a short name the
   service completes) name `validate_single_line` themselves;
   tests/test_control_characters.py enumerates them all.
"""

import unicodedata
from pathlib import Path

from django import forms
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

MULTI_LINE_ALLOWED = frozenset("\t\r\n")


def _control_characters(value: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    return [char for char in value if unicodedata.category(char) == "Cc" and char not in allowed]


def validate_single_line(value: object) -> None:
    if isinstance(value, str) and _control_characters(value):
        raise ValidationError(
            "Remove the line break or other control character: this field takes one line of text.",
            code="control_character",
        )


def validate_multi_line(value: object) -> None:
    if isinstance(value, str) and _control_characters(value, MULTI_LINE_ALLOWED):
        raise ValidationError("Remove the control character from this text.", code="control_character")


def project_models() -> list[type[models.Model]]:
    """The models of Rapport's own apps (those in folders of the project), not Django's or a package's."""
    base = Path(settings.BASE_DIR).resolve()
    return [
        model
        for app_config in apps.get_app_configs()
        if Path(app_config.path).resolve().parent == base
        for model in app_config.get_models()
    ]


def apply_to_models() -> None:
    """Adds the validators to every text field of the project's models.

    To `field.validators`, the list validation runs, as Django adds its own
    MaxLengthValidator there: not to the validators a migration records.
    """
    for model in project_models():
        for field in model._meta.get_fields():
            if isinstance(field, models.CharField):
                rule = validate_single_line
            elif isinstance(field, models.TextField):
                rule = validate_multi_line
            else:
                continue
            if rule not in field.validators:
                field.validators.append(rule)


class SingleLineField(forms.CharField):
    """A form's one-line text field that is not a model's: refuses control characters like the models do."""

    default_validators = [validate_single_line]
