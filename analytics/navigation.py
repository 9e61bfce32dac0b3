from clinics.navigation import Menu, MenuEntry, register_menu_entry

from .sections import PIPELINE

# Everyone with a dashboard, in the account menu's work tools (the navigation
# bar is full at desktop widths): the index opens the first dashboard the role may see.
register_menu_entry(MenuEntry("Dashboards", "analytics:index", PIPELINE, order=5, menu=Menu.WORK))
