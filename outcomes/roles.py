"""Who may do what with outcomes, care notes, NPS and scorecards.

Therapists and admins record care (`referrals.roles.CARE`): notes, outcome
scores, the patient's NPS and the survey link. Everyone who sees a referral
sees its scores and NPS; the notes' clinical text is for those who treat.
Scorecards are for the people who court physicians and run the clinic.
"""

from clinics.models import Role
from referrals.roles import CARE

RECORDERS = CARE
READS_NOTES = CARE
SCORECARD_READERS = frozenset({Role.LIAISON, Role.ADMIN, Role.THERAPIST})
