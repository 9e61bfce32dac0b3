"""Who may record what on a referral; the services check these sets and the views read them."""

from clinics.models import Role

# The outcome and the money (visits attended, amounts billed and collected):
# the people who treat the patient and those who run the clinic, not the front desk.
CARE = frozenset({Role.THERAPIST, Role.ADMIN})
