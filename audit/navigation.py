"""The audit pages in the admin menu."""

from clinics.navigation import Menu, MenuEntry, register_menu_entry
from clinics.roles import ADMINS

register_menu_entry(MenuEntry("Access audit", "audit:search", ADMINS, order=80, menu=Menu.ADMIN))
