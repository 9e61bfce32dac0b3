"""The email log's menu entry (see clinics/navigation.py)."""

from clinics.navigation import Menu, MenuEntry, register_menu_entry
from clinics.roles import ADMINS

register_menu_entry(MenuEntry("Email log", "outbox:log", ADMINS, order=50, menu=Menu.ADMIN))
