"""Outreach's menu entries (see clinics/navigation.py)."""

from clinics.models import Role
from clinics.navigation import Menu, MenuEntry, register_menu_entry

from .roles import OUTREACH, RUNS_OUTREACH

# On a phone, in the field, a liaison's menu leads with whom to call and what they promised.
LIAISONS = frozenset({Role.LIAISON})

register_menu_entry(
    MenuEntry("Attention", "outreach:attention", RUNS_OUTREACH, order=80, phone_first_for=LIAISONS)
)
register_menu_entry(
    MenuEntry("Follow-ups", "outreach:followups", OUTREACH, order=90, phone_first_for=LIAISONS)
)
register_menu_entry(
    MenuEntry("Outreach activity", "outreach:activity", RUNS_OUTREACH, order=10, menu=Menu.WORK)
)
register_menu_entry(MenuEntry("All touches", "outreach:touch_list", OUTREACH, order=20, menu=Menu.WORK))
register_menu_entry(
    MenuEntry("Calendar subscription", "outreach:calendar_settings", OUTREACH, order=30, menu=Menu.WORK)
)
