"""Who may do what with visits and payments.

Therapists and admins record and correct them by hand (`referrals.roles.CARE`);
admins import files and resolve the rows an import could not match. The front
desk sees a referral's visit count and dates, never its amounts.
"""

from clinics.roles import ADMINS
from referrals.roles import CARE

EDITORS = CARE
IMPORTERS = ADMINS
SEES_AMOUNTS = CARE
