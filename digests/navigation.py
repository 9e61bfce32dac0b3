"""The digest's menu entries (see clinics/navigation.py)."""

from clinics.navigation import Menu, MenuEntry, register_menu_entry
from clinics.roles import ADMINS

from .content import DIGEST_ROLES

register_menu_entry(MenuEntry("Weekly digest", "digests:mine", DIGEST_ROLES, order=40, menu=Menu.WORK))
register_menu_entry(MenuEntry("Weekly digests", "digests:recipients", ADMINS, order=60, menu=Menu.ADMIN))
