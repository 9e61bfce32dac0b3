"""The outcome measures a clinic records, as data: range, which way is better, and the change that matters.

Each instrument is one record below, with the source of its MCID; the code
that checks a score, computes a change and gives its verdict reads these
fields and never asks which instrument it has. Adding an instrument is adding
a record.

The MCID (minimal clinically important difference) is the smallest change a
patient notices. Some instruments publish it two ways, "10 points or 30 % of
the intake score" (Ostelo 2008): either is a change that matters, so the one
that applies is the smaller of the two for that patient's intake score.
Instruments with no published MCID show their change without a verdict.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from django.core.exceptions import ValidationError


class Better(StrEnum):
    HIGHER = "higher"
    LOWER = "lower"


@dataclass(frozen=True)
class ItemScoring:
    """A total computed from items the patient answers: (mean of answered items − item minimum) × multiplier.

    QuickDASH: 11 items of 1–5, at least 10 answered, (mean − 1) × 25.
    """

    count: int
    item_minimum: int
    item_maximum: int
    answered_at_least: int
    multiplier: Decimal


@dataclass(frozen=True)
class Instrument:
    code: str
    name: str
    full_name: str
    minimum: Decimal
    maximum: Decimal
    better: Better
    # How precise a typed total may be: a LEFS total is a whole number, a PSFS a mean.
    decimal_places: int
    mcid_points: Decimal | None
    # "or 30 % of the intake score": 0.30.
    mcid_share_of_intake: Decimal | None
    reference: str
    items: ItemScoring | None = None
    note: str = ""

    @property
    def has_mcid(self) -> bool:
        return self.mcid_points is not None or self.mcid_share_of_intake is not None

    @property
    def mcid_label(self) -> str:
        """ "9 points", "10 points or 30 % of the intake score"; empty without an MCID."""
        parts = []
        if self.mcid_points is not None:
            parts.append(points(self.mcid_points))
        if self.mcid_share_of_intake is not None:
            parts.append(f"{number(self.mcid_share_of_intake * 100)} % of the intake score")
        return " or ".join(parts)

    @property
    def range_label(self) -> str:
        return f"{number(self.minimum)}–{number(self.maximum)}"

    def check_score(self, score: Decimal) -> None:
        """Refuses a total outside the instrument's range or more precise than it is scored."""
        if not self.minimum <= score <= self.maximum:
            raise ValidationError(
                f"{self.name} scores run from {number(self.minimum)} to {number(self.maximum)}; "
                f"{number(score)} is outside that range."
            )
        exponent = score.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > self.decimal_places:
            precision = f"at most {self.decimal_places} decimals" if self.decimal_places else "whole numbers"
            raise ValidationError(f"{self.name} scores are {precision}; {number(score)} is not.")

    def improvement(self, *, intake: Decimal, latest: Decimal) -> Decimal:
        """The change in the improving direction: positive is better, whichever way the scale runs."""
        change = latest - intake
        return change if self.better is Better.HIGHER else -change

    def share_of_range(self, improvement: Decimal) -> Decimal:
        """An improvement as a percentage of the scale's range, so changes on different scales compare."""
        return (improvement * 100 / (self.maximum - self.minimum)).quantize(Decimal("0.1"), ROUND_HALF_UP)

    def mcid_for(self, intake: Decimal) -> Decimal | None:
        """The change that matters for a patient who started at `intake`; None if none is published.

        The share of the intake score applies only to a positive intake: 30 %
        of nothing would make no change at all count as one.
        """
        thresholds = []
        if self.mcid_points is not None:
            thresholds.append(self.mcid_points)
        if self.mcid_share_of_intake is not None and intake > 0:
            thresholds.append((intake * self.mcid_share_of_intake).quantize(Decimal("0.01"), ROUND_HALF_UP))
        return min(thresholds) if thresholds else None

    def reached_mcid(self, *, intake: Decimal, latest: Decimal) -> bool | None:
        """Whether the patient improved by at least the MCID; None where no MCID is published."""
        mcid = self.mcid_for(intake)
        if mcid is None:
            return None
        improvement = self.improvement(intake=intake, latest=latest)
        return improvement > 0 and improvement >= mcid

    def meaning(self, *, intake: Decimal, latest: Decimal) -> str:
        """The change in plain words for a physician: "improved 18 points, more than the 9-point change …"."""
        improvement = self.improvement(intake=intake, latest=latest)
        if improvement > 0:
            moved = f"improved {points(improvement)}"
        elif improvement < 0:
            moved = f"worse by {points(-improvement)}"
        else:
            moved = "no change"
        mcid = self.mcid_for(intake)
        if mcid is None:
            return f"{moved}; {self.name} has no published threshold for a change patients notice"
        threshold = f"the {number(mcid)}-point change patients notice"
        if improvement <= 0:
            return f"{moved}, short of {threshold}"
        if improvement > mcid:
            return f"{moved}, more than {threshold}"
        if improvement == mcid:
            return f"{moved}, {threshold}"
        return f"{moved}, less than {threshold}"

    def score_from_items(self, answers: list[int | None]) -> Decimal:
        """The total from item answers (None for an item left blank), by the instrument's item scoring.

        Rounded to the instrument's precision; refused when too few items
        are answered or an answer is outside the items' scale.
        """
        scoring = self.items
        if scoring is None:
            raise ValidationError(f"{self.name} is recorded as a total, not item by item.")
        if len(answers) != scoring.count:
            raise ValidationError(f"{self.name} has {scoring.count} items; {len(answers)} were given.")
        answered = [answer for answer in answers if answer is not None]
        if any(not scoring.item_minimum <= answer <= scoring.item_maximum for answer in answered):
            raise ValidationError(
                f"{self.name} items are answered {scoring.item_minimum} to {scoring.item_maximum}."
            )
        if len(answered) < scoring.answered_at_least:
            raise ValidationError(
                f"{self.name} needs at least {scoring.answered_at_least} of its {scoring.count} items "
                f"answered; {len(answered)} {'is' if len(answered) == 1 else 'are'}."
            )
        mean = Decimal(sum(answered)) / len(answered)
        total = (mean - scoring.item_minimum) * scoring.multiplier
        return total.quantize(Decimal(1).scaleb(-self.decimal_places), ROUND_HALF_UP)


def number(value: Decimal) -> str:
    """A score as people write it: 18, 7.5, 27.27; never 18.00 or 1E+1."""
    return f"{value.normalize():f}"


def points(value: Decimal) -> str:
    return f"{number(value)} point{'' if value == 1 else 's'}"


INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument(
        code="lefs",
        name="LEFS",
        full_name="Lower Extremity Functional Scale",
        minimum=Decimal(0),
        maximum=Decimal(80),
        better=Better.HIGHER,
        decimal_places=0,
        mcid_points=Decimal(9),
        mcid_share_of_intake=None,
        reference="Binkley 1999",
    ),
    Instrument(
        code="odi",
        name="ODI",
        full_name="Oswestry Disability Index (low back), %",
        minimum=Decimal(0),
        maximum=Decimal(100),
        better=Better.LOWER,
        decimal_places=0,
        mcid_points=Decimal(10),
        mcid_share_of_intake=Decimal("0.30"),
        reference="Ostelo 2008",
    ),
    Instrument(
        code="ndi",
        name="NDI",
        full_name="Neck Disability Index, 0–50",
        minimum=Decimal(0),
        maximum=Decimal(50),
        better=Better.LOWER,
        decimal_places=0,
        mcid_points=Decimal("7.5"),
        mcid_share_of_intake=None,
        reference="Young 2009",
        note="Recorded on the 0–50 scale (halve a percentage score). The authors advise 10 points "
        "before calling one patient's change real.",
    ),
    Instrument(
        code="quickdash",
        name="QuickDASH",
        full_name="QuickDASH (arm, shoulder and hand)",
        minimum=Decimal(0),
        maximum=Decimal(100),
        better=Better.LOWER,
        decimal_places=2,
        mcid_points=Decimal(14),
        mcid_share_of_intake=None,
        reference="Sorensen 2013",
        items=ItemScoring(
            count=11, item_minimum=1, item_maximum=5, answered_at_least=10, multiplier=Decimal(25)
        ),
    ),
    Instrument(
        code="psfs",
        name="PSFS",
        full_name="Patient-Specific Functional Scale (mean of 3–5 activities)",
        minimum=Decimal(0),
        maximum=Decimal(10),
        better=Better.HIGHER,
        decimal_places=2,
        mcid_points=Decimal(2),
        mcid_share_of_intake=None,
        reference="Stratford 1995 (unverified)",
    ),
    Instrument(
        code="koos_jr",
        name="KOOS JR",
        full_name="KOOS JR (knee), interval score",
        minimum=Decimal(0),
        maximum=Decimal(100),
        better=Better.HIGHER,
        decimal_places=2,
        mcid_points=None,
        mcid_share_of_intake=None,
        reference="No published MCID found",
    ),
    Instrument(
        code="hoos_jr",
        name="HOOS JR",
        full_name="HOOS JR (hip), interval score",
        minimum=Decimal(0),
        maximum=Decimal(100),
        better=Better.HIGHER,
        decimal_places=2,
        mcid_points=None,
        mcid_share_of_intake=None,
        reference="No published MCID found",
    ),
    Instrument(
        code="nprs",
        name="NPRS",
        full_name="Numeric Pain Rating Scale",
        minimum=Decimal(0),
        maximum=Decimal(10),
        better=Better.LOWER,
        decimal_places=0,
        mcid_points=Decimal(2),
        mcid_share_of_intake=Decimal("0.30"),
        reference="Ostelo 2008",
    ),
    Instrument(
        code="foto_lumbar",
        name="FOTO (lumbar)",
        full_name="FOTO functional status, lumbar",
        minimum=Decimal(0),
        maximum=Decimal(100),
        better=Better.HIGHER,
        decimal_places=0,
        mcid_points=Decimal(5),
        mcid_share_of_intake=None,
        reference="FOTO, about 5 points for the lumbar spine",
    ),
    Instrument(
        code="foto",
        name="FOTO",
        full_name="FOTO functional status, other body parts",
        minimum=Decimal(0),
        maximum=Decimal(100),
        better=Better.HIGHER,
        decimal_places=0,
        mcid_points=None,
        mcid_share_of_intake=None,
        reference="MCID published here for the lumbar spine only",
    ),
)

BY_CODE: dict[str, Instrument] = {instrument.code: instrument for instrument in INSTRUMENTS}
CHOICES: list[tuple[str, str]] = [(instrument.code, instrument.name) for instrument in INSTRUMENTS]


def instrument(code: str) -> Instrument:
    try:
        return BY_CODE[code]
    except KeyError:
        raise ValidationError(f"“{code}” is not an outcome measure Rapport knows.") from None
