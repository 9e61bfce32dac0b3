"""The two rules that say a referral source is slipping, as plain functions.

Contact lapsed: a source of cadence c days (its tier's interval, or its own)
last reached d days ago is *due soon* from c − w days (w = a quarter of the
cadence, at least 1 and at most 7 days), *overdue* beyond c days and *lapsed*
beyond 2c days.

Referrals declining: the referrals of the last 60 days are compared with the
source's own rate over the 365 days before them. With b baseline referrals
the expected count is λ = b × 60 / 365; the drop is significant when
P(X ≤ observed) < 5 % for X ~ Poisson(λ). Only sources with at least 12
baseline referrals (one a month) are tested: below that, two quiet months are
ordinary. An open flag closes only when P rises above 10 %, so a source near
the line does not flap open and shut from one day to the next.
"""

import math
from dataclasses import dataclass

from .models import FlagSeverity

RECENT_DAYS = 60
BASELINE_DAYS = 365
MIN_BASELINE_REFERRALS = 12
OPEN_BELOW_P = 0.05
CLOSE_AT_OR_ABOVE_P = 0.10


def due_soon_window(cadence_days: int) -> int:
    return max(1, min(7, cadence_days // 4))


def contact_severity(*, days_since_contact: int, cadence_days: int) -> str | None:
    if days_since_contact > 2 * cadence_days:
        return FlagSeverity.LAPSED
    if days_since_contact > cadence_days:
        return FlagSeverity.OVERDUE
    if days_since_contact >= cadence_days - due_soon_window(cadence_days):
        return FlagSeverity.DUE_SOON
    return None


def poisson_cdf(observed: int, expected: float) -> float:
    """P(X ≤ observed) for X ~ Poisson(expected), summed term by term (observed is small)."""
    term = math.exp(-expected)
    total = term
    for k in range(1, observed + 1):
        term *= expected / k
        total += term
    return min(total, 1.0)


@dataclass(frozen=True)
class ReferralTrend:
    recent: int
    baseline: int

    @property
    def expected(self) -> float:
        return self.baseline * RECENT_DAYS / BASELINE_DAYS

    @property
    def p_value(self) -> float:
        return poisson_cdf(self.recent, self.expected)

    def is_declining(self, *, already_flagged: bool) -> bool:
        if self.baseline < MIN_BASELINE_REFERRALS or self.recent >= self.expected:
            return False
        return self.p_value < (CLOSE_AT_OR_ABOVE_P if already_flagged else OPEN_BELOW_P)
