"""The menus, assembled from the entries each app registers.

Clinics is the lowest app with pages, yet its menus lead to every app's
pages. It must not name them (tests/test_dependency_order.py), so each app
registers its own entries in its `navigation.py`, which its AppConfig.ready
loads, and the base template shows what is registered for the member's role.
"""

from dataclasses import dataclass
from enum import StrEnum

from django.urls import reverse

from .roles import ADMINS, ALL_ROLES


class Menu(StrEnum):
    # The navigation bar.
    MAIN = "main"
    # The account menu, in blocks: running the organization (admins), one's
    # own work tools, then what everyone has, which the person's own
    # "Change password" and "Sign out" follow.
    ADMIN = "admin"
    WORK = "work"
    ACCOUNT = "account"


ACCOUNT_MENU_BLOCKS = (Menu.ADMIN, Menu.WORK, Menu.ACCOUNT)


@dataclass(frozen=True)
class MenuEntry:
    label: str
    url_name: str
    roles: frozenset[str]
    # Position within its menu, lowest first; apps leave gaps for each other.
    order: int
    menu: Menu = Menu.MAIN
    # Roles for whom the entry leads the collapsed navigation bar on a phone.
    phone_first_for: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MenuLink:
    label: str
    url: str
    current: bool = False
    phone_first: bool = False


_entries: dict[str, MenuEntry] = {}


def register_menu_entry(entry: MenuEntry) -> MenuEntry:
    """Adds `entry` to its menu; registering the same URL name again replaces the entry."""
    unknown = (entry.roles | entry.phone_first_for) - ALL_ROLES
    if unknown:
        raise ValueError(f"Unknown roles for {entry.url_name}: {sorted(unknown)}")
    _entries[entry.url_name] = entry
    return entry


def menu_entries() -> list[MenuEntry]:
    return sorted(_entries.values(), key=lambda entry: (entry.menu, entry.order, entry.label))


def menus_for(*, role: str, path: str) -> dict[Menu, list[MenuLink]]:
    """Each menu's links for `role`, in order.

    In the main menu, the entry whose URL is the longest prefix of `path` is
    marked current.
    """
    menus: dict[Menu, list[MenuLink]] = {menu: [] for menu in Menu}
    for entry in menu_entries():
        if role in entry.roles:
            menus[entry.menu].append(
                MenuLink(entry.label, reverse(entry.url_name), phone_first=role in entry.phone_first_for)
            )
    matches = [
        link.url
        for link in menus[Menu.MAIN]
        if path == link.url or (link.url != "/" and path.startswith(link.url))
    ]
    current = max(matches, key=len, default=None)
    menus[Menu.MAIN] = [
        MenuLink(link.label, link.url, current=link.url == current, phone_first=link.phone_first)
        for link in menus[Menu.MAIN]
    ]
    return menus


register_menu_entry(MenuEntry("Staff", "clinics:staff_list", ADMINS, order=10, menu=Menu.ADMIN))
register_menu_entry(MenuEntry("Payers", "clinics:payer_list", ADMINS, order=20, menu=Menu.ADMIN))
register_menu_entry(
    MenuEntry("Organization settings", "clinics:organization_settings", ADMINS, order=90, menu=Menu.ADMIN)
)
register_menu_entry(MenuEntry("Data export", "clinics:data_export", ADMINS, order=95, menu=Menu.ADMIN))
register_menu_entry(MenuEntry("Clinics and services", "clinics:list", ALL_ROLES, order=10, menu=Menu.ACCOUNT))
