"""The menus come from what each app registers: filtered by role, in order, never leading to a 403."""

import pytest
from django.urls import resolve, reverse

from clinics import navigation
from clinics.context_processors import navigation as navigation_context
from clinics.models import Role
from clinics.navigation import Menu, MenuEntry, menu_entries, menus_for, register_menu_entry
from clinics.roles import ALL_ROLES


@pytest.fixture
def registry(monkeypatch):
    """The registry as the apps left it; entries a test adds are gone after it."""
    monkeypatch.setattr(navigation, "_entries", dict(navigation._entries))


def labels(links):
    return [link.label for link in links]


@pytest.mark.parametrize(
    ("role", "main", "account_blocks"),
    [
        (
            Role.ADMIN,
            [
                "New referral",
                "Queues",
                "Referrals",
                "Plans of care",
                "Letters",
                "Physicians",
                "Practices",
                "Prospects",
                "Attention",
                "Follow-ups",
            ],
            [
                [
                    "Staff",
                    "Payers",
                    "Import from NPPES",
                    "Import visits and payments",
                    "Service announcements",
                    "Email log",
                    "Weekly digests",
                    "Access audit",
                    "Patient data retention",
                    "Organization settings",
                    "Data export",
                ],
                [
                    "Dashboards",
                    "Outcomes and scorecards",
                    "Outreach activity",
                    "All touches",
                    "Calendar subscription",
                    "Weekly digest",
                ],
                ["Clinics and services"],
            ],
        ),
        (
            Role.LIAISON,
            [
                "New referral",
                "Queues",
                "Referrals",
                "Plans of care",
                "Letters",
                "Physicians",
                "Practices",
                "Prospects",
                "Attention",
                "Follow-ups",
            ],
            [
                [
                    "Dashboards",
                    "Outcomes and scorecards",
                    "Outreach activity",
                    "All touches",
                    "Calendar subscription",
                    "Weekly digest",
                ],
                ["Clinics and services"],
            ],
        ),
        (
            Role.THERAPIST,
            [
                "New referral",
                "Queues",
                "Referrals",
                "Plans of care",
                "Letters",
                "Physicians",
                "Practices",
                "Follow-ups",
            ],
            [
                [
                    "Dashboards",
                    "Outcomes and scorecards",
                    "All touches",
                    "Calendar subscription",
                    "Weekly digest",
                ],
                ["Clinics and services"],
            ],
        ),
        (
            Role.FRONT_DESK,
            ["New referral", "Queues", "Referrals", "Plans of care", "Letters", "Physicians", "Practices"],
            [["Dashboards"], ["Clinics and services"]],
        ),
    ],
)
def test_each_role_sees_its_menus_in_order(client, summit, member_factory, role, main, account_blocks):
    client.force_login(member_factory(summit, role).user)

    context = client.get(reverse("home")).context

    assert labels(context["navigation"]) == main
    assert [labels(block) for block in context["account_menu"]] == account_blocks


def test_the_account_menu_keeps_its_blocks_apart_and_ends_with_the_persons_own_links(admin_client):
    content = admin_client.get(reverse("home")).content.decode()
    menu = content[content.index('<ul class="dropdown-menu dropdown-menu-end">') :]

    expected = ["Staff", "Organization settings", "dropdown-divider", "Outreach activity"]
    expected += ["Calendar subscription", "dropdown-divider", "Clinics and services", "Change password"]
    expected += ["dropdown-divider", "Sign out"]
    position = 0
    for text in expected:
        position = menu.index(text, position) + 1
    assert menu.count("dropdown-divider") == 3
    between = menu[menu.index("Clinics and services") : menu.index("Change password")]
    assert "dropdown-divider" not in between


@pytest.mark.parametrize("entry", menu_entries(), ids=lambda entry: entry.url_name)
def test_no_entry_leads_a_role_to_a_page_it_may_not_open(entry):
    view = resolve(reverse(entry.url_name)).func

    assert entry.roles <= view.allowed_roles


def test_entries_show_to_their_roles_in_their_order(registry):
    register_menu_entry(MenuEntry("Reports", "clinics:payer_list", frozenset({Role.THERAPIST}), order=95))
    register_menu_entry(MenuEntry("Digest", "clinics:list", ALL_ROLES, order=5))

    therapist = labels(menus_for(role=Role.THERAPIST, path="/")[Menu.MAIN])
    front_desk = labels(menus_for(role=Role.FRONT_DESK, path="/")[Menu.MAIN])

    assert therapist[0] == "Digest"
    assert therapist[-1] == "Reports"
    assert "Reports" not in front_desk
    assert front_desk[0] == "Digest"


def test_registering_a_url_name_again_replaces_its_entry(registry):
    before = len(menu_entries())

    register_menu_entry(MenuEntry("Lists", "referrals:list", ALL_ROLES, order=30))

    assert len(menu_entries()) == before
    assert "Lists" in labels(menus_for(role=Role.FRONT_DESK, path="/")[Menu.MAIN])


def test_an_unknown_role_is_refused(registry):
    with pytest.raises(ValueError, match="Unknown roles"):
        register_menu_entry(MenuEntry("Board", "referrals:board", frozenset({"janitor"}), order=1))


def test_a_phone_first_entry_leads_the_collapsed_menu_for_its_roles_only(
    registry, client, summit, member_factory
):
    register_menu_entry(
        MenuEntry(
            "Attention",
            "outreach:attention",
            frozenset({Role.LIAISON, Role.ADMIN}),
            order=80,
            phone_first_for=frozenset({Role.LIAISON}),
        )
    )
    phone_first = '<li class="nav-item order-first order-xl-0"><a class="nav-link text-nowrap" href="{}">'
    expected = phone_first.format(reverse("outreach:attention"))

    client.force_login(member_factory(summit, Role.LIAISON).user)
    liaison_page = client.get(reverse("home")).content.decode()
    client.force_login(member_factory(summit, Role.ADMIN).user)
    admin_page = client.get(reverse("home")).content.decode()

    assert expected in liaison_page
    assert expected not in admin_page
    assert reverse("outreach:attention") in admin_page


def test_a_visitor_without_membership_gets_no_menu(rf):
    request = rf.get("/")
    request.membership = None

    assert navigation_context(request) == {"navigation": [], "account_menu": []}


@pytest.mark.parametrize(
    ("role", "leading"),
    [
        (Role.LIAISON, ["Attention", "Follow-ups"]),
        (Role.FRONT_DESK, ["New referral", "Queues"]),
        (Role.THERAPIST, ["Referrals", "Plans of care"]),
        (Role.ADMIN, []),
    ],
)
def test_the_phone_menu_leads_with_what_each_role_uses_most(client, summit, member_factory, role, leading):
    client.force_login(member_factory(summit, role).user)

    links = client.get(reverse("home")).context["navigation"]

    assert [link.label for link in links if link.phone_first] == leading
