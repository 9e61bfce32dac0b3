"""The home page shows the cards the apps register: for their roles, in order, each from its own app."""

import datetime

import pytest
from django.urls import reverse

from clinics import home_cards
from clinics.home_cards import CardContent, HomeCard, HomeContext, HomeCount, register_home_card
from clinics.models import Role
from clinics.roles import ALL_ROLES

from ..test_dependency_order import BASE_DIR, apps_above, imported_apps, names_of_apps_below


@pytest.fixture
def registry(monkeypatch):
    """The registry as the apps left it; cards a test adds are gone after it."""
    monkeypatch.setattr(home_cards, "_cards", dict(home_cards._cards))


def letters_to_review(context: HomeContext) -> CardContent:
    return CardContent(
        counts=[HomeCount("to review", 4, reverse("clinics:list"))], empty="Nothing to review."
    )


def titles(client) -> list[str]:
    return [shown.card.title for shown in client.get(reverse("home")).context["cards"]]


@pytest.mark.parametrize(
    ("role", "keys"),
    [
        (Role.FRONT_DESK, ["referrals.contact", "referrals.plans", "letters.letters"]),
        (
            Role.THERAPIST,
            ["referrals.my_evaluations", "referrals.my_plans", "letters.letters", "outreach.followups"],
        ),
        (
            Role.LIAISON,
            ["letters.letters", "outreach.attention", "outreach.followups", "physicians.best_fit"],
        ),
        (
            Role.ADMIN,
            [
                "referrals.contact",
                "referrals.evaluations",
                "referrals.plans",
                "referrals.intake_today",
                "letters.letters",
                "outreach.attention",
                "outreach.followups",
                "physicians.best_fit",
                "clinics.organization",
            ],
        ),
    ],
)
def test_each_role_gets_its_cards_in_order(role, keys):
    assert [card.key for card in home_cards.home_cards(role=role)] == keys


def test_each_card_is_registered_by_the_app_its_key_names():
    """A card's counts live in its own app's home_cards module, which only imports apps above it."""
    for card in home_cards.home_cards(role=Role.ADMIN) + home_cards.home_cards(role=Role.THERAPIST):
        app = card.key.split(".")[0]
        assert card.counts.__module__ == f"{app}.home_cards", card.key


def test_the_registry_and_the_home_page_know_no_app_that_registers_cards():
    """Clinics shows the referrals', outreach's and the directory's cards without naming them."""
    files = [
        BASE_DIR / "clinics" / "home_cards.py",
        BASE_DIR / "clinics" / "templates" / "clinics" / "home.html",
    ]

    assert names_of_apps_below("clinics", files, "clinics") == {}
    assert imported_apps("clinics").get("clinics/home_cards.py", set()) <= apps_above("clinics")


def test_a_later_app_adds_a_card_without_touching_the_page(registry, client, summit, member_factory):
    register_home_card(
        HomeCard(
            key="letters.review",
            title="Letters to review",
            roles=frozenset({Role.THERAPIST}),
            order=25,
            counts=letters_to_review,
        )
    )

    client.force_login(member_factory(summit, Role.THERAPIST).user)
    therapist = titles(client)
    client.force_login(member_factory(summit, Role.FRONT_DESK).user)
    front_desk = titles(client)

    assert therapist == [
        "My evaluations coming up",
        "Letters to review",
        "My plans of care",
        "Letters to physicians",
        "Follow-ups",
    ]
    assert "Letters to review" not in front_desk


def test_a_card_with_nothing_for_the_person_is_left_out(registry, client, summit, member_factory):
    register_home_card(
        HomeCard(key="digests.weekly", title="Weekly digest", roles=ALL_ROLES, order=1, counts=lambda _: None)
    )
    client.force_login(member_factory(summit, Role.FRONT_DESK).user)

    assert "Weekly digest" not in titles(client)


def test_registering_a_key_again_replaces_its_card(registry):
    before = len(home_cards.home_cards(role=Role.ADMIN))

    register_home_card(
        HomeCard(key="referrals.plans", title="Plans", roles=ALL_ROLES, order=30, counts=letters_to_review)
    )

    assert len(home_cards.home_cards(role=Role.ADMIN)) == before
    assert "Plans" in [card.title for card in home_cards.home_cards(role=Role.LIAISON)]


@pytest.mark.parametrize("roles", [frozenset({"janitor"}), frozenset({Role.ADMIN, "owner"}), frozenset()])
def test_a_card_for_an_unknown_role_or_none_is_refused(registry, roles):
    with pytest.raises(ValueError, match="role"):
        register_home_card(
            HomeCard(key="dashboards.main", title="Dashboard", roles=roles, order=1, counts=letters_to_review)
        )

    assert "Dashboard" not in [card.title for role in ALL_ROLES for card in home_cards.home_cards(role=role)]


def test_cards_of_one_app_share_a_lookup_once_per_page(summit_admin):
    context = HomeContext(
        organization=summit_admin.organization,
        membership=summit_admin,
        user=summit_admin.user,
        now=datetime.datetime(2026, 12, 2, 17, tzinfo=datetime.UTC),
    )
    computed = []

    def rules():
        computed.append(1)
        return {"contact_within": 1}

    first = context.shared("referrals.rules", rules)
    second = context.shared("referrals.rules", rules)

    assert first is second
    assert computed == [1]


def test_a_card_with_counts_all_zero_is_empty_and_one_with_a_note_only_is_not():
    zero = HomeCount("late", 0, "/")

    assert CardContent(counts=[zero], empty="Nothing waiting.").is_empty
    assert not CardContent(counts=[zero, HomeCount("due", 1, "/")], empty="").is_empty
    assert not CardContent(counts=[], empty="", note="3 clinics open").is_empty
