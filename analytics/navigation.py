from clinics.navigation import Menu, MenuEntry, register_menu_entry

from .sections import dashboard_sections

# Everyone with a dashboard, in the account menu's work tools (the navigation
# bar is full at desktop widths): the index opens the first dashboard the role may see.
WITH_A_DASHBOARD = frozenset().union(*(section.roles for section in dashboard_sections()))
register_menu_entry(MenuEntry("Dashboards", "analytics:index", WITH_A_DASHBOARD, order=5, menu=Menu.WORK))
