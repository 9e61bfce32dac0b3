"""The home page's cards: what needs the person now, assembled from what each app registers.

The home page leads with the work waiting for the member's role: referrals to
call, plans of care to chase, sources slipping, follow-ups due. That work
lives in the apps above clinics, which clinics must not name
(tests/test_dependency_order.py), so each app registers its cards in its own
`home_cards.py`, which its AppConfig.ready loads, and the page shows the cards
registered for the member's role, in order. A later app (letters to review,
digests, dashboards) adds a card the same way, without editing the page.

A card's `counts` takes a `HomeContext` and returns its counts, each with the
link to a list page filtered to show exactly what was counted, or None when
it has nothing for this person. It reads them from its app's selectors in a
fixed number of queries, counted in the database: the page costs the same for
one referral as for ten thousand. Cards of one app that need the same lookup
(the organization's rules) share it through `HomeContext.shared`.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import cast

from django.template.defaultfilters import pluralize
from django.urls import reverse

from accounts.models import User

from .clock import organization_today, person_today
from .models import Membership, Organization
from .roles import ADMINS, ALL_ROLES
from .selectors import organization_overview


@dataclass(frozen=True)
class HomeCount:
    # Reads after the number: "3 late for the first call".
    label: str
    value: int
    # A list page filtered to exactly the `value` rows counted.
    url: str
    # Work already late (past a deadline): shown first and in red while not zero.
    urgent: bool = False


@dataclass(frozen=True)
class HomeLink:
    label: str
    url: str
    # Said after the link, in a quieter voice ("fit 84").
    detail: str = ""


@dataclass(frozen=True)
class CardContent:
    counts: list[HomeCount]
    # Said instead of the counts when all are zero: what that means, and what comes next.
    empty: str
    # Named items under the counts (the best-fitting prospects), each a link.
    items: list[HomeLink] = field(default_factory=list)
    # The card's own way into its pages ("Open the queues"), shown in any case.
    links: list[HomeLink] = field(default_factory=list)
    # A line that explains the counts ("Fit with Downtown"), shown in any case.
    note: str = ""

    @property
    def is_empty(self) -> bool:
        """Whether the card counts things and every count is zero."""
        return bool(self.counts) and not any(count.value for count in self.counts) and not self.items


@dataclass
class HomeContext:
    """Who the home page is for, and when: what every card's `counts` takes."""

    organization: Organization
    # Its `organization` and `home_clinic` are selected with it (the middleware does).
    membership: Membership
    # The membership's user, already at hand in a request.
    user: User
    now: datetime.datetime
    _shared: dict[str, object] = field(default_factory=dict, repr=False)

    @cached_property
    def organization_today(self) -> datetime.date:
        """The organization's day: deadlines and what it counts for everyone (clinics/clock.py)."""
        return organization_today(self.organization, now=self.now)

    @cached_property
    def person_today(self) -> datetime.date:
        """The person's own day: their follow-ups due today (clinics/clock.py)."""
        return person_today(self.membership, now=self.now)

    def shared[T](self, key: str, compute: Callable[[], T]) -> T:
        """`compute()`, run once per page for every card that asks by `key` (prefix it with the app)."""
        if key not in self._shared:
            self._shared[key] = compute()
        return cast(T, self._shared[key])


@dataclass(frozen=True)
class HomeCard:
    # Unique, prefixed by the app: "referrals.contact".
    key: str
    title: str
    roles: frozenset[str]
    # Position on the page, lowest first; apps leave gaps for each other.
    order: int
    counts: Callable[[HomeContext], CardContent | None]


@dataclass(frozen=True)
class ShownCard:
    card: HomeCard
    content: CardContent


_cards: dict[str, HomeCard] = {}


def register_home_card(card: HomeCard) -> HomeCard:
    """Adds `card` to the home page of its roles; registering the same key again replaces it."""
    if not card.roles:
        raise ValueError(f"The home card {card.key} names no role.")
    if unknown := card.roles - ALL_ROLES:
        raise ValueError(f"Unknown roles for home card {card.key}: {sorted(unknown)}")
    _cards[card.key] = card
    return card


def home_cards(*, role: str) -> list[HomeCard]:
    return sorted((card for card in _cards.values() if role in card.roles), key=lambda c: (c.order, c.key))


def home_page_cards(context: HomeContext) -> list[ShownCard]:
    """The member's cards with their counts, in order; a card with nothing for this person is left out."""
    shown = []
    for card in home_cards(role=context.membership.role):
        content = card.counts(context)
        if content is not None:
            shown.append(ShownCard(card=card, content=content))
    return shown


def _organization_overview(context: HomeContext) -> CardContent:
    """Where the clinic list and the staff went: the organization in a line, and the way to its pages.

    Figures, not counts: the lists they lead to also show closed clinics and
    deactivated staff.
    """
    overview = organization_overview(organization=context.organization)
    clinics, staff = overview.clinics_open, overview.staff_active
    people = pluralize(staff, "person,people")
    return CardContent(
        counts=[],
        empty="",
        note=f"{clinics} clinic{pluralize(clinics)} open · {staff} {people} on staff",
        links=[
            HomeLink("Clinics and services", reverse("clinics:list")),
            HomeLink("Manage staff", reverse("clinics:staff_list")),
            HomeLink("Organization settings", reverse("clinics:organization_settings")),
        ],
    )


register_home_card(
    HomeCard(
        key="clinics.organization",
        title="Clinics and staff",
        roles=ADMINS,
        order=900,
        counts=_organization_overview,
    )
)
