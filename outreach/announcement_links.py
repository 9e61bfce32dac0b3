"""Where service announcements plug into the lower apps: the admin menu and the services pages.

Kept apart from outreach's other registrations so that announcements can
move to their own app with this module.
"""

from clinics.models import Role
from clinics.navigation import Menu, MenuEntry, register_menu_entry
from clinics.service_links import (
    ServiceFollowUp,
    ServiceLink,
    register_offered_service_link,
    register_service_follow_up,
    register_services_page_link,
)

ANNOUNCERS = frozenset({Role.ADMIN})

register_menu_entry(
    MenuEntry("Service announcements", "outreach:announcement_list", ANNOUNCERS, order=40, menu=Menu.ADMIN)
)
register_services_page_link(ServiceLink("Announcements", "outreach:announcement_list", ANNOUNCERS))
register_offered_service_link(ServiceLink("Announce", "outreach:announcement_create", ANNOUNCERS))
# A service worth offering is worth telling sources about: the announce page
# follows its saving (with a Skip back to the services).
register_service_follow_up(
    ServiceFollowUp(
        "Saved. Announce it to the physicians it matters to, or skip.",
        "outreach:announcement_create",
        ANNOUNCERS,
    )
)
