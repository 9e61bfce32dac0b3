"""Analytics' rollups are left out of the organization data export (clinics/exports/registry.py)."""

from clinics.exports.registry import exclude

from .models import ReferralFact, TouchDay

DERIVED = "a rollup for the dashboards, computed again from the exported tables."

exclude(ReferralFact, reason=DERIVED)
exclude(TouchDay, reason=DERIVED)
