"""CPT and HCPCS codes as a visit lists them: “97110x2, 97140, G0283”."""

import re

from django.core.exceptions import ValidationError

# CPT: five digits (Category II/III: four digits and F or T); HCPCS Level II: a letter and four digits.
PROCEDURE_CODE = re.compile(r"^(?:[0-9]{4}[0-9FT]|[A-V][0-9]{4})$")
# A code, an optional modifier (“-GP”, dropped: it does not change what was done), optional units.
CODE_WITH_UNITS = re.compile(r"^(?P<code>[0-9A-Z]{5})(?:-[0-9A-Z]{2})*(?:[X×*](?P<units>[0-9]{1,2}))?$")
MAX_UNITS = 96  # 15-minute units in a day


def parse_procedure_codes(text: str) -> list[dict]:
    """[{"code": "97110", "units": 2}, {"code": "97140", "units": None}] from “97110x2, 97140”.

    Codes are separated by commas, semicolons or spaces; units follow a code
    after “x”, “×” or “*”. Raises ValidationError naming the first item that
    is not a code.
    """
    items = []
    joined = re.sub(r"\s*([X×*])\s*", r"\1", text.strip().upper())
    for token in re.split(r"[,;\s]+", joined):
        if not token:
            continue
        match = CODE_WITH_UNITS.match(token)
        if match is None or not PROCEDURE_CODE.match(match["code"]):
            raise ValidationError(
                f"“{token}” is not a CPT or HCPCS code (e.g. 97110, or 97110x2 for 2 units)."
            )
        units = int(match["units"]) if match["units"] else None
        if units is not None and not 1 <= units <= MAX_UNITS:
            raise ValidationError(f"“{token}”: units must be between 1 and {MAX_UNITS}.")
        items.append({"code": match["code"], "units": units})
    return items


def format_procedure_codes(items: list[dict]) -> str:
    return ", ".join(
        f"{item['code']}x{item['units']}" if item.get("units") else item["code"] for item in items
    )
