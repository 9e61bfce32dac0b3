from clinics.navigation import MenuEntry, register_menu_entry

from .sections import PIPELINE

# Everyone with a dashboard: the index opens the first their role may see.
register_menu_entry(MenuEntry("Dashboards", "analytics:index", PIPELINE, order=80))
