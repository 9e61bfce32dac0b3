"""The letters' menu entry (see clinics/navigation.py)."""

from clinics.navigation import MenuEntry, register_menu_entry
from clinics.roles import ALL_ROLES

register_menu_entry(MenuEntry("Letters", "letters:list", ALL_ROLES, order=45))
