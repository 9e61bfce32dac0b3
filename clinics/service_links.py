"""What later apps offer to do with a service: links on the services page, and the step after saving one.

The announcements app announces services, but clinics must not name its pages
(tests/test_dependency_order.py): an app registers its links here when it
loads, and the services pages show what is registered for the member's role.
"""

from dataclasses import dataclass

from django.urls import reverse

from .models import ServiceOffering
from .roles import ALL_ROLES


@dataclass(frozen=True)
class ServiceLink:
    label: str
    url_name: str
    roles: frozenset[str]
    order: int = 0


@dataclass(frozen=True)
class ServiceFollowUp:
    """Where saving an offered service leads next, and what the message there says."""

    message: str
    # Takes the service as `offering_id`.
    url_name: str
    roles: frozenset[str]
    order: int = 0


@dataclass(frozen=True)
class Link:
    label: str
    url: str


_page_links: dict[str, ServiceLink] = {}
_offered_links: dict[str, ServiceLink] = {}
_follow_ups: dict[str, ServiceFollowUp] = {}


def _check_roles(roles: frozenset[str], url_name: str) -> None:
    if unknown := roles - ALL_ROLES:
        raise ValueError(f"Unknown roles for {url_name}: {sorted(unknown)}")


def register_services_page_link(link: ServiceLink) -> ServiceLink:
    """A button at the top of the services list."""
    _check_roles(link.roles, link.url_name)
    _page_links[link.url_name] = link
    return link


def register_offered_service_link(link: ServiceLink) -> ServiceLink:
    """A button on each row of a service on offer; the URL takes the service as `offering_id`."""
    _check_roles(link.roles, link.url_name)
    _offered_links[link.url_name] = link
    return link


def register_service_follow_up(follow_up: ServiceFollowUp) -> ServiceFollowUp:
    """Where saving a service on offer leads; of several for a role, the lowest order wins."""
    _check_roles(follow_up.roles, follow_up.url_name)
    _follow_ups[follow_up.url_name] = follow_up
    return follow_up


def _ordered(links: dict[str, ServiceLink], role: str) -> list[ServiceLink]:
    return sorted(
        (link for link in links.values() if role in link.roles), key=lambda link: (link.order, link.label)
    )


def services_page_links(*, role: str) -> list[Link]:
    return [Link(link.label, reverse(link.url_name)) for link in _ordered(_page_links, role)]


def offered_service_links(*, role: str, offering: ServiceOffering) -> list[Link]:
    if not offering.is_active:
        return []
    return [
        Link(link.label, reverse(link.url_name, kwargs={"offering_id": offering.pk}))
        for link in _ordered(_offered_links, role)
    ]


def service_follow_up(*, role: str, offering: ServiceOffering) -> tuple[str, str] | None:
    """(message, URL) of the step after saving `offering`, or None to return to the list."""
    if not offering.is_active:
        return None
    for follow_up in sorted(
        _follow_ups.values(), key=lambda follow_up: (follow_up.order, follow_up.url_name)
    ):
        if role in follow_up.roles:
            return follow_up.message, reverse(follow_up.url_name, kwargs={"offering_id": offering.pk})
    return None
