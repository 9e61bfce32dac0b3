"""Where service announcements plug into the lower apps: the admin menu and the services pages."""

from clinics.navigation import Menu, MenuEntry, register_menu_entry
from clinics.roles import ADMINS
from clinics.service_links import (
    ServiceFollowUp,
    ServiceLink,
    register_offered_service_link,
    register_service_follow_up,
    register_services_page_link,
)

register_menu_entry(
    MenuEntry("Service announcements", "announcements:list", ADMINS, order=40, menu=Menu.ADMIN)
)
register_services_page_link(ServiceLink("Announcements", "announcements:list", ADMINS))
register_offered_service_link(ServiceLink("Announce", "announcements:create", ADMINS))
# A service worth offering is worth telling sources about: the announce page
# follows its saving (with a Skip back to the services).
register_service_follow_up(
    ServiceFollowUp(
        "Saved. Announce it to the physicians it matters to, or skip.",
        "announcements:create",
        ADMINS,
    )
)
