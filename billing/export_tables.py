"""Billing's tables in the organization data export (clinics/exports/registry.py)."""

from clinics.exports.registry import register

from .models import BillingCorrection, BillingImport, ChargeLine, ColumnMapping, Payment, ReviewRow, Visit

register(Visit, name="visits", description="Billed visits of referred patients, entered by hand or imported.")
register(ChargeLine, name="charge_lines", description="The imported charge lines each visit was built from.")
register(Payment, name="payments", description="Payments received for referred patients' care.")
register(
    BillingCorrection,
    name="billing_corrections",
    description="Each change or removal of a visit or payment by hand, with the values before and after.",
)
register(
    BillingImport,
    name="billing_imports",
    description="Imports of billing spreadsheets and their results; the files are not included.",
    exclude_fields=("file", "claim_token"),
)
register(
    ColumnMapping,
    name="billing_column_mappings",
    description="Saved column mappings of billing spreadsheets.",
)
register(
    ReviewRow,
    name="billing_review_rows",
    description="Imported rows set aside for review, and how they were resolved.",
)
