"""Diagnosis codes, checked against the official ICD-10-CM code list.

The list is the one CMS publishes, as shipped by the `simple-icd-10-cm`
package (its data files are CMS's tabular list and code list; see README,
"Packages"). What Rapport asks of it:

1. A code is typed in any case, with or without its dot ("m5450" is M54.50);
   `normalize_icd10` writes it one way.
2. A code that is not in the list ("Z99.999") is refused.
3. A code that is in the list but has codes beneath it (a category or
   subcategory, "M54.5") is not billable: since October 2021 a claim for low
   back pain needs M54.50, M54.51 or M54.59. Such a header is offered with its
   billable codes; the intake and details forms ask once which one is meant,
   or keep the header as written when the order says only that
   (`forms.ChecksDiagnosisCodes`).

The package reads its whole classification when first imported (about 2
seconds and 180 MB): it is imported on the first lookup, so only a process
that checks a code pays for it, once.
"""

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from types import ModuleType

from django.core.exceptions import ValidationError

ICD10_PATTERN = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")


def normalize_icd10(value: str) -> str:
    """“m5450” → “M54.50”; raises ValidationError for anything that is not ICD-10-CM shaped."""
    code = value.strip().upper().replace(" ", "")
    if "." not in code and len(code) > 3:
        code = f"{code[:3]}.{code[3:]}"
    if not ICD10_PATTERN.match(code):
        raise ValidationError(f"“{value.strip()}” is not an ICD-10-CM code (e.g. M54.50).")
    return code


# The release the installed package ships; tests/referrals/test_diagnoses.py
# fails when the package changes, so this is updated with it.
ICD10_CM_RELEASE = "ICD-10-CM, April 1, 2026 release"
# A header's billable codes offered in the form; more are found by typing a longer code.
CODES_OFFERED = 12


@dataclass(frozen=True)
class Diagnosis:
    """An ICD-10-CM code as the code list describes it."""

    code: str  # with its dot: "M54.50"
    description: str
    # A header ("M54.5") has codes beneath it and cannot be billed; its billable ones:
    billable_codes: tuple["Diagnosis", ...] = ()

    @property
    def billable(self) -> bool:
        return not self.billable_codes


@cache
def _classification() -> ModuleType:
    import simple_icd_10_cm  # a 2-second load, paid by the first process that needs it

    return simple_icd_10_cm


@lru_cache(maxsize=4096)
def diagnosis_lookup(code: str) -> Diagnosis | None:
    """The code (typed any way) as ICD-10-CM lists it, or None when it is not an ICD-10-CM code."""
    try:
        code = normalize_icd10(code)
    except ValidationError:
        return None
    classification = _classification()
    # The pattern leaves out chapters ("12") and blocks ("M50-M54"), which are listed but are no codes.
    if not ICD10_PATTERN.match(code) or not classification.is_valid_item(code):
        return None
    billable = tuple(
        Diagnosis(code=descendant, description=classification.get_description(descendant))
        for descendant in classification.get_descendants(code)
        if classification.is_leaf(descendant)
    )
    return Diagnosis(code=code, description=classification.get_description(code), billable_codes=billable)


def unknown_code_message(code: str) -> str:
    """Why `code` is refused: not shaped like a code at all, or shaped like one but not in the list."""
    try:
        code = normalize_icd10(code)
    except ValidationError as error:
        return error.messages[0]
    return f"“{code}” is not in the ICD-10-CM code list ({ICD10_CM_RELEASE}): check it on the order."


def validate_diagnosis_codes(value: object) -> None:
    """Refuses codes that are not ICD-10-CM codes; headers pass (the forms ask about them)."""
    if not isinstance(value, list):
        raise ValidationError("Diagnoses are a list of ICD-10-CM codes.")
    unknown = [str(code) for code in value if diagnosis_lookup(str(code)) is None]
    if unknown:
        raise ValidationError([unknown_code_message(code) for code in unknown], code="unknown_code")
