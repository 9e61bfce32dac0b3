"""The referral pipeline's menu entries (see clinics/navigation.py)."""

from clinics.navigation import MenuEntry, register_menu_entry
from clinics.roles import ALL_ROLES

register_menu_entry(MenuEntry("New referral", "referrals:intake", ALL_ROLES, order=10))
register_menu_entry(MenuEntry("Queues", "referrals:queues", ALL_ROLES, order=20))
register_menu_entry(MenuEntry("Referrals", "referrals:list", ALL_ROLES, order=30))
register_menu_entry(MenuEntry("Plans of care", "referrals:plans_awaiting", ALL_ROLES, order=40))
