"""The email log's menu entry (see clinics/navigation.py)."""

from clinics.models import Role
from clinics.navigation import Menu, MenuEntry, register_menu_entry

register_menu_entry(MenuEntry("Email log", "outbox:log", frozenset({Role.ADMIN}), order=50, menu=Menu.ADMIN))
