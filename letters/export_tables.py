"""Letters in the organization data export (clinics/exports/registry.py)."""

from clinics.exports.registry import register

from .models import Letter, LetterOpening, LetterReferral, LetterSettings

register(
    Letter,
    name="letters",
    description="Outcome letters to referring physicians: their content, review and delivery.",
    exclude_fields=("access_token",),
)
register(LetterReferral, name="letter_referrals", description="Which referrals each letter is about.")
register(LetterOpening, name="letter_openings", description="Each time a letter's link was opened.")
register(LetterSettings, name="letter_settings", description="The organization's letter settings.")
