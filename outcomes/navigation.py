"""The scorecards' menu entry (see clinics/navigation.py): a work tool, beside outreach's."""

from clinics.navigation import Menu, MenuEntry, register_menu_entry

from .roles import SCORECARD_READERS

register_menu_entry(
    MenuEntry("Outcomes and scorecards", "outcomes:scorecards", SCORECARD_READERS, order=5, menu=Menu.WORK)
)
