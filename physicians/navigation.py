"""The directory's menu entries (see clinics/navigation.py)."""

from clinics.navigation import Menu, MenuEntry, register_menu_entry
from clinics.roles import ADMINS, ALL_ROLES

from .roles import DIRECTORY_EDITORS

register_menu_entry(MenuEntry("Physicians", "physicians:list", ALL_ROLES, order=50))
register_menu_entry(MenuEntry("Practices", "physicians:practice_list", ALL_ROLES, order=60))
register_menu_entry(MenuEntry("Prospects", "physicians:prospects", DIRECTORY_EDITORS, order=70))
register_menu_entry(
    MenuEntry("Import from NPPES", "physicians:import_list", ADMINS, order=30, menu=Menu.ADMIN)
)
