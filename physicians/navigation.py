"""The directory's menu entries (see clinics/navigation.py)."""

from clinics.models import Role
from clinics.navigation import Menu, MenuEntry, register_menu_entry
from clinics.tenancy import ALL_ROLES

register_menu_entry(MenuEntry("Physicians", "physicians:list", ALL_ROLES, order=50))
register_menu_entry(MenuEntry("Practices", "physicians:practice_list", ALL_ROLES, order=60))
register_menu_entry(
    MenuEntry("Prospects", "physicians:prospects", frozenset({Role.LIAISON, Role.ADMIN}), order=70)
)
register_menu_entry(
    MenuEntry(
        "Import from NPPES", "physicians:import_list", frozenset({Role.ADMIN}), order=30, menu=Menu.ADMIN
    )
)
