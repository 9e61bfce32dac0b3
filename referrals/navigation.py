"""The referral pipeline's menu entries (see clinics/navigation.py).

On a phone the front desk's menu leads with intake and the queues, a
therapist's with the referrals and plans of care they follow.
"""

from clinics.models import Role
from clinics.navigation import Menu, MenuEntry, register_menu_entry
from clinics.roles import ADMINS, ALL_ROLES

FRONT_DESK = frozenset({Role.FRONT_DESK})
THERAPISTS = frozenset({Role.THERAPIST})

register_menu_entry(
    MenuEntry("New referral", "referrals:intake", ALL_ROLES, order=10, phone_first_for=FRONT_DESK)
)
register_menu_entry(MenuEntry("Queues", "referrals:queues", ALL_ROLES, order=20, phone_first_for=FRONT_DESK))
register_menu_entry(MenuEntry("Referrals", "referrals:list", ALL_ROLES, order=30, phone_first_for=THERAPISTS))
register_menu_entry(
    MenuEntry("Plans of care", "referrals:plans_awaiting", ALL_ROLES, order=40, phone_first_for=THERAPISTS)
)
register_menu_entry(
    MenuEntry("Patient data retention", "referrals:retention", ADMINS, order=85, menu=Menu.ADMIN)
)
