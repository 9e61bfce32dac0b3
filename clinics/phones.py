"""Phone numbers: parsed when typed, stored in one format, shown the way people dial them.

1. A number is parsed by `phonenumbers` (Google's libphonenumber) through
   django-phonenumber-field: typed without a country code it is one of
   `PHONENUMBER_DEFAULT_REGION`'s (the US unless set), and it must be a
   number that can be dialled there, or abroad with "+" and its country code.
2. It is stored in E.164 ("+13035550142"), whatever was typed: "303.555.0142",
   "(303) 555-0142" and "+1 303 555 0142" are one number, found by one search.
3. It is shown in the national format at home ("(303) 555-0142") and the
   international one abroad ("+44 20 7946 0958"), always as a `tel:` link
   (the `phone` filter of `contact_links`).
4. E.164 has no room for an extension: a field refuses one, except where its
   model keeps the extension apart (a gatekeeper's), and there the form moves
   it to its own field.
5. A value stored before numbers were checked that does not parse is kept as
   it was typed (`PhoneNumber.raw_input`): the upgrade left it alone and
   listed it, pages show it marked "check this number", and the record's form
   asks for a number the next time it is saved.
"""

from functools import lru_cache

import phonenumbers
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from phonenumber_field import formfields, modelfields, widgets
from phonenumber_field.phonenumber import PhoneNumber, to_python

# What a service takes for a phone field: text as typed (the demo, an import) or a form's parsed number.
type PhoneValue = str | PhoneNumber
# Room for the longest E.164 number (16 characters) and for values typed before numbers were checked.
STORED_LENGTH = 30
INVALID = (
    "Enter a phone number with its area code, e.g. (303) 555-0142; "
    "for a number abroad, + and its country code."
)
NO_EXTENSION = "Type the number without its extension: Rapport keeps the number alone."
NORMALIZE_BATCH = 1000
# The countries of the North American Numbering Plan, where a number is a 3-digit area code and 7 digits.
NORTH_AMERICAN_REGIONS = frozenset(phonenumbers.region_codes_for_country_code(1))


def phone_number(value: object) -> PhoneNumber | None:
    """`value` (typed text, a stored value, a PhoneNumber) as a PhoneNumber; None when empty."""
    if value in (None, ""):
        return None
    if isinstance(value, PhoneNumber):
        return value
    return to_python(str(value), region=settings.PHONENUMBER_DEFAULT_REGION)


def validate_phone(value: object, *, extension_allowed: bool = False) -> None:
    number = phone_number(value)
    if number is None:
        return
    if not number.is_valid():
        raise ValidationError(INVALID, code="invalid")
    if number.extension and not extension_allowed:
        raise ValidationError(NO_EXTENSION, code="extension")


@lru_cache(maxsize=2**14)
def _north_american_exchange_valid(first_six: str) -> bool:
    return phone_number(f"{first_six}0100").is_valid()  # type: ignore[union-attr]  # never None here


def phone_for_storage(value: str) -> str:
    """What a phone field stores for `value`: its E.164 form, or the text itself when it is no valid number.

    For paths that write rows without the model field (the NPPES bulk import,
    migrations): the same rule as the field's own. Parsing and validating
    costs about 0.1 ms a number, as much as the rest of an NPPES row; a North
    American number written as its 10 bare digits, as NPPES writes them, is
    valid or not by its area code and exchange (its first six digits), so that
    answer is remembered per exchange. tests/clinics/test_phones.py checks
    that this gives libphonenumber's own answer.
    """
    typed = value.strip()
    if (
        len(typed) == 10
        and typed.isdigit()
        and settings.PHONENUMBER_DEFAULT_REGION in NORTH_AMERICAN_REGIONS
        and typed[0] in "23456789"
    ):
        return f"+1{typed}" if _north_american_exchange_valid(typed[:6]) else typed
    number = phone_number(typed)
    if number is None:
        return ""
    if number.is_valid() and not number.extension:
        return number.as_e164
    return value.strip()


def phone_display(value: object) -> str:
    """A number as people read it: national format at home, international abroad, else as typed."""
    number = phone_number(value)
    if number is None:
        return ""
    if not number.is_valid():
        return str(number.raw_input or value)
    home = phonenumbers.region_code_for_number(number) == settings.PHONENUMBER_DEFAULT_REGION
    return number.as_national if home else number.as_international


def without_extension(number: PhoneNumber) -> PhoneNumber:
    """The same number with no extension: what a field that keeps the extension apart stores."""
    bare = PhoneNumber()
    bare.merge_from(number)
    bare.extension = None
    return bare


class PhoneInput(widgets.RegionalPhoneNumberWidget):
    """Shows a stored number as people read it, and typed text exactly as it was typed."""

    def format_value(self, value):
        if isinstance(value, str):
            return value
        return super().format_value(value)


class PhoneFormField(formfields.PhoneNumberField):
    """A phone number typed in a form; refuses what the model would, with words the desk understands."""

    default_validators: list = []
    widget = PhoneInput

    def __init__(self, *args, extension_allowed: bool = False, **kwargs):
        self.extension_allowed = extension_allowed
        kwargs["error_messages"] = {"invalid": INVALID, **kwargs.get("error_messages", {})}
        kwargs.pop("max_length", None)  # the stored form is at most 16 characters, whatever was typed
        super().__init__(*args, **kwargs)
        self.widget.attrs.setdefault("autocomplete", "off")

    def validate(self, value) -> None:
        super().validate(value)
        validate_phone(value, extension_allowed=self.extension_allowed)


class PhoneField(modelfields.PhoneNumberField):
    """A phone number column: stored in E.164, validated as `validate_phone` says."""

    default_validators = [validate_phone]

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", STORED_LENGTH)
        super().__init__(*args, **kwargs)

    def formfield(self, form_class=None, choices_form_class=None, **kwargs) -> forms.Field | None:
        return super().formfield(form_class=form_class or PhoneFormField, **kwargs)


def phone_numbers_normalize(
    model: type[models.Model], fields: tuple[str, ...], *, extension_field: str = ""
) -> list[str]:
    """Rewrites the model's stored numbers in E.164; returns what was kept as typed, as "Model 12 phone".

    For the upgrade that made these columns phone fields (run while they are
    still plain text): a value that is no valid number, or that carries an
    extension with nowhere to go, is left exactly as it was. With
    `extension_field`, an extension typed after the number moves there when
    that field is empty.
    """
    kept, batch = [], []
    names = (*fields, extension_field) if extension_field else fields
    for row in model._base_manager.only("pk", *names).order_by("pk").iterator(chunk_size=NORMALIZE_BATCH):
        changed = False
        for name in fields:
            typed = getattr(row, name)
            number = phone_number(typed.strip())
            if number is None or not number.is_valid():
                if typed.strip():
                    kept.append(f"{model.__name__} {row.pk} {name}")
                continue
            if number.extension:
                if not extension_field or getattr(row, extension_field):
                    kept.append(f"{model.__name__} {row.pk} {name}")
                    continue
                setattr(row, extension_field, number.extension)
            if typed != number.as_e164:
                setattr(row, name, number.as_e164)
                changed = True
        if changed:
            batch.append(row)
        if len(batch) == NORMALIZE_BATCH:
            model._base_manager.bulk_update(batch, names)
            batch = []
    model._base_manager.bulk_update(batch, names)
    return kept


REPORT_LISTS = 100


def phone_numbers_report(kept: list[str]) -> None:
    """Says, as `migrate` runs, which values were kept as typed (ids and fields: never a patient's number).

    migrate's own output is where whoever upgrades reads what the upgrade did.
    """
    if kept:
        more = f" and {len(kept) - REPORT_LISTS} more" if len(kept) > REPORT_LISTS else ""
        print(
            f"\n  Kept {len(kept)} phone value(s) as typed, not numbers Rapport could read; "
            f"pages mark them 'check number': {', '.join(kept[:REPORT_LISTS])}{more}."
        )
