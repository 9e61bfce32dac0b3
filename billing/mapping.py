"""Which column of a report holds which of Rapport's fields, guessed from its headings and confirmed once.

A mapping is {field: heading}. It is saved per organization, kind of report
and header shape (`reading.header_signature`), so the next file of the same
shape is recognized and imported without asking again.
"""

from dataclasses import dataclass

from .models import ImportKind
from .reading import normalize_heading


@dataclass(frozen=True)
class Target:
    name: str
    label: str
    # Headings that EMR exports commonly use for it (compared folded, without punctuation).
    headings: tuple[str, ...]


IDENTITY = (
    Target(
        "account_number",
        "Patient account number / MRN",
        (
            "account",
            "account number",
            "acct",
            "acct no",
            "account no",
            "mrn",
            "patient id",
            "chart",
            "chart number",
            "patient account",
            "patient account number",
            "patient acct",
            "pt acct",
        ),
    ),
    Target("patient_name", "Patient name (Last, First)", ("patient", "patient name", "name", "pt name")),
    Target("last_name", "Patient last name", ("last name", "patient last name", "last")),
    Target("first_name", "Patient first name", ("first name", "patient first name", "first")),
    Target("birth_date", "Date of birth", ("dob", "date of birth", "birth date", "birthdate", "patient dob")),
    Target(
        "line_id",
        "Line id (the EMR's own id of the row)",
        ("line id", "charge id", "transaction id", "trans id", "payment id", "id", "line", "visit id"),
    ),
)
VISIT_TARGETS = (
    Target(
        "service_date", "Date of service", ("dos", "date of service", "service date", "visit date", "date")
    ),
    Target(
        "procedure_codes",
        "CPT/HCPCS codes",
        ("cpt", "cpt code", "cpt codes", "procedure", "procedure code", "codes", "hcpcs", "cpt hcpcs"),
    ),
    Target("units", "Units (when in their own column)", ("units", "unit", "qty", "quantity")),
    Target(
        "billed_amount",
        "Billed amount",
        (
            "charge",
            "charges",
            "billed",
            "amount billed",
            "billed amount",
            "charge amount",
            "total charge",
            "fee",
        ),
    ),
    Target("payer", "Payer", ("payer", "insurance", "primary insurance", "carrier", "plan", "payor")),
    Target("clinic", "Clinic / location", ("location", "clinic", "facility", "site")),
)
PAYMENT_TARGETS = (
    Target(
        "paid_on",
        "Payment date",
        (
            "payment date",
            "date paid",
            "paid date",
            "deposit date",
            "posted",
            "post date",
            "posting date",
            "date",
        ),
    ),
    Target("amount", "Amount", ("amount", "payment", "payment amount", "paid", "amount paid")),
    Target(
        "kind",
        "Type (payer, patient, adjustment)",
        ("type", "payment type", "transaction type", "kind", "pay type"),
    ),
    Target("payer", "Payer", ("payer", "insurance", "carrier", "payor", "paid by")),
    Target(
        "reference",
        "Reference (check, EFT, claim)",
        ("reference", "ref", "check", "check number", "eft", "claim", "claim number", "check eft"),
    ),
    Target("service_date", "Date of service (optional)", ("dos", "date of service", "service date")),
)
TARGETS = {ImportKind.VISITS: IDENTITY + VISIT_TARGETS, ImportKind.PAYMENTS: IDENTITY + PAYMENT_TARGETS}
REQUIRED = {ImportKind.VISITS: ("service_date",), ImportKind.PAYMENTS: ("paid_on", "amount")}


def guess_mapping(kind: str, header: list[str]) -> dict[str, str]:
    """{field: heading} for the headings that say plainly what they hold; each heading is used once."""
    folded = {normalize_heading(cell): cell for cell in header if cell}
    mapping: dict[str, str] = {}
    for target in TARGETS[ImportKind(kind)]:
        for heading in target.headings:
            cell = folded.get(heading)
            if cell is not None and cell not in mapping.values():
                mapping[target.name] = cell
                break
    return mapping


def mapping_problems(kind: str, mapping: dict[str, str], header: list[str]) -> list[str]:
    """Why `mapping` cannot import this report: a required field unmapped, no way to know the patient."""
    problems = []
    labels = {target.name: target.label for target in TARGETS[ImportKind(kind)]}
    known = set(header)
    for name, heading in mapping.items():
        if name not in labels:
            problems.append(f"“{name}” is not a field of this kind of report.")
        elif heading not in known:
            problems.append(f"{labels[name]}: the file has no column “{heading}”.")
    for name in REQUIRED[ImportKind(kind)]:
        if name not in mapping:
            problems.append(f"Choose the column that holds the {labels[name].lower()}.")
    named = "patient_name" in mapping or {"last_name", "first_name"} <= mapping.keys()
    if "account_number" not in mapping and not (named and "birth_date" in mapping):
        problems.append(
            "Choose the patient's account number, or the patient's name and date of birth: "
            "rows are matched to referrals by one or the other."
        )
    if len(set(mapping.values())) != len(mapping):
        problems.append("Each column can hold one field only.")
    return problems
