"""Who may do what with outcome letters; the services check these sets and the views read them.

Therapists and admins review and approve letters (a therapist those of their
own patients); the front desk, therapists and admins send printed letters
and mark them sent; everyone, liaisons included, sees the letter history.
"""

from clinics.models import Role
from referrals.roles import CARE

REVIEWERS = CARE
SENDERS = frozenset({Role.FRONT_DESK, Role.THERAPIST, Role.ADMIN})
