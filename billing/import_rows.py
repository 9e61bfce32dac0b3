"""The lines of a report as the import reads them, what becomes of each, and the tally of an import.

`RowReader` turns a data line into an `ImportedRow`: parsed, matched to a
referral (billing/matching.py), its clinic and payer found by name, and
given its identity in the EMR. Both ways of applying rows
(billing/apply_portable.py, billing/apply_postgres.py) then decide each
row's `Plan` by the same rules (`plan_of`, and its SQL twin) and tally it in
an `ImportResult` with the same words.
"""

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache, partial
from operator import itemgetter
from typing import Any

from django.core.exceptions import ValidationError

from clinics.models import Clinic, Payer

from .codes import MAX_UNITS, parse_procedure_codes
from .mapping import REQUIRED
from .matching import Matcher, split_patient_name
from .models import ImportKind, PaymentKind, ReviewStatus, visit_key
from .reading import fold, parse_amount, parse_date

OUTCOMES_KEPT = 200  # lines listed per outcome; every line is counted
# The largest amount a visit or payment holds (10 digits, 2 after the point).
LARGEST_AMOUNT = Decimal("99999999.99")

PAYMENT_KIND_WORDS = (
    (PaymentKind.ADJUSTMENT, ("adj", "write", "contractual", "allowance", "w/o")),
    (PaymentKind.PATIENT, ("patient", "pt ", "copay", "co-pay", "self", "coins", "deduct", "cash", "card")),
)


def payment_kind(text: str) -> str:
    """“Ins Pmt” → payer, “Patient Copay” → patient, “Contractual Adj” → adjustment; blank → payer."""
    words = f"{fold(text)} "
    for kind, markers in PAYMENT_KIND_WORDS:
        if any(marker in words for marker in markers):
            return kind
    return PaymentKind.PAYER


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()[:32]


@dataclass(slots=True)
class ImportedRow:
    """One line of a report as read: what it says, which referral it matched, and its identity."""

    line: int
    # The EMR's line id ("id:…"), else a hash of the columns that identify the row ("h:…").
    ident: str
    fingerprint: str
    day: date  # the date of service, or the payment's date
    amount: Decimal
    account_number: str = ""
    patient: str = ""  # as the file writes it, for the review list
    birth_date: str = ""
    codes: list[dict[str, Any]] = field(default_factory=list)
    payer: str = ""
    clinic: str = ""
    kind: str = ""
    reference: str = ""
    payer_id: int | None = None  # the payer the file names, if the organization has it
    file_clinic_id: int | None = None  # the clinic the file names, if the organization has it
    referral_id: int | None = None
    referral_number: int | None = None
    clinic_id: int | None = None  # a matched visit's clinic: the file's, else its referral's
    matched_by: str = ""
    reason: str = ""
    candidate_ids: list[int] = field(default_factory=list)
    # The stable key: `ident`, numbered “#2”, “#3”… for identical lines of one
    # file; a line id repeated in the file is a duplicate. Set by the applier.
    key: str = ""
    duplicate: bool = False

    @property
    def hashed(self) -> bool:
        return self.ident.startswith("h:")

    def number(self, occurrence: int) -> None:
        """Sets the key of the `occurrence`-th line of the file with this identity."""
        self.key = self.ident
        if occurrence > 1:
            if self.hashed:
                self.key = f"{self.ident}#{occurrence}"
            else:
                self.duplicate = True

    def assign(self, *, referral_id: int | None, number: int | None, clinic_id: int | None) -> None:
        """Gives the row its referral and, to a visit, a clinic: the file's, else the referral's."""
        self.referral_id, self.referral_number = referral_id, number
        self.clinic_id = (self.file_clinic_id or clinic_id) if referral_id is not None else None

    def visit_key(self) -> str | None:
        """The key of the visit a matched visit line belongs to (`models.visit_key`); None otherwise."""
        if self.referral_id is None or self.clinic_id is None:
            return None
        return visit_key(self.referral_id, self.day, self.clinic_id)

    def review_values(self) -> dict[str, Any]:
        """What the review list keeps of an unmatched row, to show it and to save it once resolved."""
        return {
            "line": self.line,
            "day": self.day.isoformat(),
            "amount": str(self.amount),
            "account_number": self.account_number,
            "patient": self.patient,
            "birth_date": self.birth_date,
            "codes": self.codes,
            "payer": self.payer,
            "clinic": self.clinic,
            "kind": self.kind,
            "reference": self.reference,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_review(cls, values: dict[str, Any], *, key: str) -> "ImportedRow":
        row = cls(
            line=values["line"],
            ident=key,
            fingerprint=values["fingerprint"],
            day=date.fromisoformat(values["day"]),
            amount=Decimal(values["amount"]),
            **{name: values.get(name, "") for name in REVIEW_TEXT},
            codes=values.get("codes", []),
        )
        row.key = key
        return row


REVIEW_TEXT = ("account_number", "patient", "birth_date", "payer", "clinic", "kind", "reference")


class Directory:
    """The organization's clinics and payers by name, as reports write them (folded)."""

    def __init__(self, *, organization_id: int) -> None:
        clinics = Clinic.objects.filter(organization_id=organization_id).values_list("name", "pk")
        payers = Payer.objects.filter(organization_id=organization_id).values_list("name", "pk")
        self.clinics = {fold(name): pk for name, pk in clinics}
        self.payers = {fold(name): pk for name, pk in payers}


# The fields a line is read for, in the order `RowReader.read` takes them.
READ_FIELDS = (
    "service_date",
    "paid_on",
    "billed_amount",
    "amount",
    "birth_date",
    "last_name",
    "first_name",
    "patient_name",
    "procedure_codes",
    "units",
    "account_number",
    "payer",
    "reference",
    "clinic",
    "kind",
    "line_id",
)
# Distinct dates, code lists and names remembered while reading: a file repeats them on every line.
READ_CACHE = 65_536


class RowReader:
    """Turns a report's data lines into ImportedRows, with the mapping, and matches them."""

    def __init__(
        self,
        *,
        kind: str,
        header: list[str],
        mapping: dict[str, str],
        matcher: Matcher,
        directory: Directory,
        today: date,
    ):
        self.kind = kind
        self.payment = kind == ImportKind.PAYMENTS
        columns = {name: header.index(heading) for name, heading in mapping.items()}
        self.required = [(name, columns[name]) for name in REQUIRED[ImportKind(kind)]]
        # Each line is cut or padded to the header's width plus one empty cell, which unmapped fields read.
        self.width = len(header)
        self.pick = itemgetter(*(columns.get(name, self.width) for name in READ_FIELDS))
        self.matcher = matcher
        self.today = today
        self.remembered: dict[int, str] = {}
        self.date = lru_cache(READ_CACHE)(partial(parse_date, today=today))
        self.code_list = lru_cache(READ_CACHE)(_code_list)
        self.payer_id = lru_cache(READ_CACHE)(lambda name: directory.payers.get(fold(name)) if name else None)
        self.clinic_id = lru_cache(READ_CACHE)(
            lambda name: directory.clinics.get(fold(name)) if name else None
        )

    def amount(self, text: str) -> Decimal:
        amount = parse_amount(text) if text else Decimal("0.00")
        if abs(amount) > LARGEST_AMOUNT:
            raise ValueError(f"“{text}” is more than a visit or a payment can be")
        if not self.payment and amount < 0:
            raise ValueError("a visit's billed amount cannot be negative")
        return amount

    def codes(self, text: str, units: str) -> list[dict[str, Any]]:
        codes = [{"code": code, "units": count} for code, count in self.code_list(text)]
        if units and len(codes) == 1 and codes[0]["units"] is None:
            count = int(parse_amount(units))
            if not 1 <= count <= MAX_UNITS:
                raise ValueError(f"units must be between 1 and {MAX_UNITS}, not “{units}”")
            codes[0]["units"] = count
        return codes

    def read(self, number: int, cells: list[str]) -> ImportedRow:
        """The row on line `number`; raises ValueError or ValidationError saying why it cannot be read."""
        for name, index in self.required:
            if index >= len(cells) or not cells[index]:
                raise ValueError(f"the {name.replace('_', ' ')} is empty")
        # The report's reader has stripped the cells already.
        (
            service_text,
            paid_text,
            billed_text,
            amount_text,
            born_text,
            last,
            first,
            patient_name,
            code_text,
            units,
            account,
            payer,
            reference,
            clinic,
            kind_text,
            line_id,
        ) = self.pick([*cells[: self.width], *[""] * (self.width + 1 - min(len(cells), self.width))])
        day = self.date(paid_text if self.payment else service_text)
        if day > self.today:
            raise ValueError(f"{day:%m/%d/%Y} is in the future")
        amount = self.amount(amount_text if self.payment else billed_text)
        born = self.date(born_text) if born_text else None
        if not last and patient_name:
            last, first = split_patient_name(patient_name)
        codes = [] if self.payment else self.codes(code_text, units)
        kind = payment_kind(kind_text) if self.payment else ""
        codes_key = ",".join(f"{c['code']}x{c['units'] or ''}" for c in codes)
        patient = (account, fold(last), fold(first), born)
        if line_id:
            ident = f"id:{line_id[:76]}"
        else:
            # What makes it the same visit line or payment in the next export, whatever was corrected since.
            identity = (day, codes_key) if not self.payment else (day, amount, fold(reference), kind)
            ident = f"h:{_digest(self.kind, *patient, *identity)}"
        row = ImportedRow(
            line=number,
            ident=ident,
            fingerprint=_digest(*patient, day, amount, codes_key, fold(payer), fold(reference), kind, clinic),
            day=day,
            amount=amount,
            account_number=account,
            patient=", ".join(part for part in (last, first) if part),
            birth_date=born.isoformat() if born else "",
            codes=codes,
            payer=payer,
            clinic=clinic,
            kind=kind,
            reference=reference,
            payer_id=self.payer_id(payer),
            file_clinic_id=None if self.payment else self.clinic_id(clinic),
        )
        matched = self.matcher.match(
            account_number=account,
            last_name=last,
            first_name=first,
            birth_date=born,
            day=self.date(service_text) if self.payment and service_text else day,
            payment=self.payment,
        )
        row.assign(
            referral_id=matched.referral_id,
            number=matched.number,
            clinic_id=None if self.payment else matched.clinic_id,
        )
        row.matched_by, row.reason, row.candidate_ids = matched.by, matched.reason, matched.candidate_ids
        matched_by_name = matched.referral_id is not None and matched.by == "name" and account
        if matched_by_name and self.matcher.remember(account, matched.referral_id):  # type: ignore[arg-type]
            self.remembered[matched.referral_id] = account  # type: ignore[index]
        return row


def _code_list(text: str) -> tuple[tuple[str, int | None], ...]:
    return tuple((item["code"], item["units"]) for item in parse_procedure_codes(text))


class Plan(StrEnum):
    """What an import does with a row, decided by `plan_of` (and in SQL by billing/apply_postgres.py)."""

    NEW = "new"
    CHANGED = "changed"
    SAME = "same"
    DUPLICATE = "duplicate"
    REMOVED = "removed"
    DISMISSED = "dismissed"
    UNMATCHED = "unmatched"  # listed for review now
    LISTED = "listed"  # unmatched, and listed for review by an earlier import


def plan_of(
    row: ImportedRow, *, known_fingerprint: str | None, removed: bool, review_status: str | None
) -> Plan:
    """The rules, in order: a line id seen earlier in the file; a key imported before (the same, or
    changed in the EMR); removed by hand; dismissed on review; not matched (listed for review once); new.
    """
    if row.duplicate:
        return Plan.DUPLICATE
    if known_fingerprint is not None:
        return Plan.SAME if known_fingerprint == row.fingerprint else Plan.CHANGED
    if removed:
        return Plan.REMOVED
    if review_status == ReviewStatus.DISMISSED:
        return Plan.DISMISSED
    if row.referral_id is None:
        return Plan.UNMATCHED if review_status is None else Plan.LISTED
    return Plan.NEW


OUTCOME = {
    Plan.NEW: "created",
    Plan.CHANGED: "updated",
    Plan.SAME: "unchanged",
    Plan.DUPLICATE: "unchanged",
    Plan.REMOVED: "unchanged",
    Plan.DISMISSED: "unchanged",
    Plan.UNMATCHED: "unmatched",
    Plan.LISTED: "unmatched",
}
REASON = {
    Plan.CHANGED: "Changed in the EMR since the last import.",
    Plan.SAME: "Already imported, the same as then.",
    Plan.DUPLICATE: "The same line id appears earlier in this file.",
    Plan.REMOVED: "Removed by hand after an earlier import; left out.",
    Plan.DISMISSED: "Dismissed on review earlier; left out.",
}


def describe(plan: Plan, *, referral_number: int | None, matched_by: str, reason: str) -> str:
    """The reason listed beside a line of the import's result."""
    if plan == Plan.NEW:
        how = "account number" if matched_by == "account" else "name and date of birth"
        return f"Matched to referral #{referral_number} by {how}."
    if plan == Plan.UNMATCHED:
        return f"{reason} Listed for review."
    if plan == Plan.LISTED:
        return f"{reason} Already listed for review."
    return REASON[plan]


@dataclass
class ImportResult:
    rows_read: int = 0
    created: int = 0
    visits_created: int = 0
    updated: int = 0
    unchanged: int = 0
    matched: int = 0
    unmatched: int = 0
    refused: int = 0
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    kept: Counter = field(default_factory=Counter)

    def note(self, line: int, outcome: str, reason: str = "") -> None:
        if self.kept[outcome] < OUTCOMES_KEPT:
            self.kept[outcome] += 1
            self.outcomes.append({"line": line, "outcome": outcome, "reason": reason})

    def count(self, plan: Plan, number: int = 1) -> None:
        """Adds `number` rows of `plan` to the counts."""
        outcome = OUTCOME[plan]
        if outcome == "created":
            self.created += number
            self.matched += number
        elif outcome == "updated":
            self.updated += number
        elif outcome == "unchanged":
            self.unchanged += number
        else:
            self.unmatched += number

    def tally(self, row: ImportedRow, plan: Plan) -> None:
        self.count(plan)
        reason = describe(
            plan, referral_number=row.referral_number, matched_by=row.matched_by, reason=row.reason
        )
        self.note(row.line, OUTCOME[plan], reason)


class ImportRefused(ValueError):
    """The file has lines that cannot be read: nothing was imported. `result` lists them."""

    def __init__(self, message: str, result: ImportResult) -> None:
        super().__init__(message)
        self.result = result


def refusal_reason(error: ValueError | ValidationError) -> str:
    reason = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
    return reason[:1].upper() + reason[1:]
