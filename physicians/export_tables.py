"""The referral-source directory's tables in the organization data export (clinics/exports/registry.py)."""

from clinics.exports.registry import register

from .models import Affiliation, Gatekeeper, NppesImport, Physician, Practice, StageChange

# Kept up to date from the other columns, for searching and matching addresses only.
DERIVED = ("search_text",)

register(
    Practice,
    name="practices",
    description="The referring practices in the directory.",
    exclude_fields=(*DERIVED, "location_key"),
)
register(
    Practice.populations.through,
    name="practice_populations",
    description="Which patient populations each practice treats.",
    exclude_fields=("id", "population"),
    extra_columns=("population__code",),
    queryset=lambda organization: Practice.populations.through.objects.filter(
        practice__organization=organization
    ),
)
register(
    Practice.payers.through,
    name="practice_payers",
    description="Which payers each practice works with.",
    exclude_fields=("id",),
    queryset=lambda organization: Practice.payers.through.objects.filter(practice__organization=organization),
)
register(
    Physician,
    name="physicians",
    description="The referring physicians in the directory.",
    exclude_fields=DERIVED,
)
register(Affiliation, name="affiliations", description="Which practices each physician works at.")
register(Gatekeeper, name="gatekeepers", description="The people at practices who handle referrals.")
register(
    StageChange,
    name="physician_stage_changes",
    description="Each change of a physician's relationship stage.",
)
register(
    NppesImport,
    name="nppes_imports",
    description="Imports of the national provider registry (NPPES); the files are not included.",
    exclude_fields=("file", "claim_token"),
)
