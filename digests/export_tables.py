"""Digest preferences in the organization data export (clinics/exports/registry.py)."""

from clinics.exports.registry import register

from .models import DigestPreference

register(
    DigestPreference,
    name="digest_preferences",
    description="Each person's weekly digest: the day and hour it comes, the sections turned off, whether it "
    "comes at all, and the last week sent.",
)
