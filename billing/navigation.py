"""The imports' menu entry (see clinics/navigation.py)."""

from clinics.navigation import Menu, MenuEntry, register_menu_entry

from .roles import IMPORTERS

register_menu_entry(
    MenuEntry("Import visits and payments", "billing:import_list", IMPORTERS, order=35, menu=Menu.ADMIN)
)
