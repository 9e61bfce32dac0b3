"""The outreach dashboard's touch counts, worked out by hand, and the touch lists that reproduce them.

On top of the scenario in conftest.py (Denver time; June 1–30 against May
2–31), these touches, logged through the service:

| touch | with | kind | made by | when (UTC) | Denver day |
|-------|------|------|---------|------------|------------|
| T1 | A | office visit | liaison | Jun 5 17:00 | Jun 5 |
| T2 | A | call | admin | Jun 30 05:00 | Jun 29 (late evening) |
| T3 | A's primary practice | lunch | liaison | Jun 10 18:00 | Jun 10 |
| T4 | B | email | liaison | May 20 15:00 | May 20 (previous period) |
| T5 | B | office visit | nobody recorded | Jun 15 16:00 | Jun 15 |
| T6 | B's practice's gatekeeper | call | liaison | Jun 16 16:00 | Jun 16 |
| T7 | A | call | admin | Jun 1 05:00 | May 31 (previous period) |
| T8 | B | call | liaison | Apr 20 16:00 | before both periods |

A is owned by the liaison (207X00000X, orthopaedic surgery); B has no owner
(207Q00000X, family medicine).
"""

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from analytics import selectors
from outreach.models import TouchKind
from outreach.services import touch_log
from physicians.models import Affiliation

from ..factories import GatekeeperFactory
from .conftest import PERIOD
from .test_figures import cells, headline, june


@pytest.fixture
def touches(world):
    org = world.organization
    practice_a = Affiliation.objects.get(physician=world.physician_a).practice
    practice_b = Affiliation.objects.get(physician=world.physician_b).practice
    liaison, admin = world.liaison.user, world.admin.user
    rows = [
        (TouchKind.OFFICE_VISIT, liaison, datetime(2026, 6, 5, 17), {"physician": world.physician_a}),
        (TouchKind.CALL, admin, datetime(2026, 6, 30, 5), {"physician": world.physician_a}),
        (TouchKind.LUNCH, liaison, datetime(2026, 6, 10, 18), {"practice": practice_a}),
        (TouchKind.EMAIL, liaison, datetime(2026, 5, 20, 15), {"physician": world.physician_b}),
        (TouchKind.OFFICE_VISIT, None, datetime(2026, 6, 15, 16), {"physician": world.physician_b}),
        (
            TouchKind.CALL,
            liaison,
            datetime(2026, 6, 16, 16),
            {"gatekeeper": GatekeeperFactory(organization=org, practice=practice_b)},
        ),
        (TouchKind.CALL, admin, datetime(2026, 6, 1, 5), {"physician": world.physician_a}),
        (TouchKind.CALL, liaison, datetime(2026, 4, 20, 16), {"physician": world.physician_b}),
    ]
    for kind, made_by, when, party in rows:
        touch_log(
            organization=org,
            made_by=made_by,
            logged_by=admin,
            kind=kind,
            occurred_at=when.replace(tzinfo=UTC),
            **party,
        )


def _figures(data):
    by_kind = data.table("touches_by_kind")
    by_person = data.table("touches_by_person")
    per_source = data.table("touches_per_source")
    return by_kind, by_person, per_source


def test_touches_by_kind_person_and_source_in_the_organizations_days(world, touches):
    data = selectors.outreach(june(world))
    by_kind, by_person, per_source = _figures(data)

    assert cells(by_kind, "This period") == {
        "Office visit": 2,  # T1, T5
        "Lunch": 1,  # T3
        "Call": 2,  # T2 (June 29 in Denver), T6
        "Email": 0,
        "Letter": 0,
        "In-service": 0,
        "Event": 0,
        "Gift": 0,
        "Service announcement": 0,
    }
    assert cells(by_kind, "Previous period")["Email"] == 1  # T4
    assert cells(by_kind, "Previous period")["Call"] == 1  # T7: June 1 in UTC, May 31 in Denver
    liaison_name = world.liaison.user.get_full_name()
    admin_name = world.admin.user.get_full_name()
    assert cells(by_person, "This period") == {liaison_name: 3, admin_name: 1, "Nobody recorded": 1}
    assert cells(by_person, "Previous period") == {liaison_name: 1, admin_name: 1, "Nobody recorded": 0}
    # Touches naming a physician only: the lunch and the gatekeeper's call name their practices.
    assert cells(per_source, "Touches") == {
        world.physician_a.display_name: 2,
        world.physician_b.display_name: 1,
    }
    assert (headline(data, "Touches").value, headline(data, "Touches").previous) == (5, 2)


def test_owner_and_specialty_count_touches_with_their_physicians_only(world, touches):
    mine = selectors.outreach(june(world, owner=world.liaison.user))
    family = selectors.outreach(june(world, specialty="207Q00000X"))

    assert headline(mine, "Touches").value == 2  # T1, T2: the lunch at A's practice names no physician
    assert cells(mine.table("touches_by_kind"), "Previous period")["Call"] == 1
    assert headline(family, "Touches").value == 1  # T5


def touch_list_cells(data):
    touch_list = reverse("outreach:touch_list")
    for table in data.tables:
        for row in table.rows:
            for cell in row:
                if urlsplit(cell.link).path == touch_list:
                    yield table.key, cell
    for item in data.headlines:
        if urlsplit(item.link).path == touch_list:
            yield "headline", item


@pytest.mark.parametrize(
    "narrowing",
    [{}, {"owner": "liaison"}, {"specialty": "207X00000X"}, {"start": "2026-05-31", "end": "2026-06-29"}],
)
def test_every_touch_count_links_to_the_touches_that_make_it(world, touches, admin_client, narrowing):
    if narrowing.get("owner"):
        narrowing = {"owner": world.liaison.user.pk}
    params = {**PERIOD, **narrowing}
    data = admin_client.get(reverse("analytics:outreach"), params).context["data"]
    checked = 0
    for where, figure in touch_list_cells(data):
        listed = admin_client.get(figure.link)
        assert listed.status_code == 200
        assert not listed.context["form"].errors, (where, figure.link)
        assert listed.context["page"].paginator.count == figure.value, (where, figure.link)
        checked += 1
    # Both periods of nine kinds, both of the two people recorded, two physicians, the headline.
    assert checked >= 9 * 2 + 1


def test_the_unrecorded_makers_count_links_nowhere(world, touches, admin_client):
    data = admin_client.get(reverse("analytics:outreach"), PERIOD).context["data"]
    nobody = next(row for row in data.table("touches_by_person").rows if row[0].text == "Nobody recorded")

    assert nobody[1].value == 1
    assert nobody[1].link == ""


def test_a_physicians_count_lists_the_touches_naming_them_not_their_practices(world, touches, admin_client):
    data = admin_client.get(reverse("analytics:outreach"), PERIOD).context["data"]
    row = next(
        row for row in data.table("touches_per_source").rows if row[0].text == world.physician_a.display_name
    )
    query = parse_qs(urlsplit(row[1].link).query)
    everything = {key: values for key, values in query.items() if key != "named_only"}

    named = admin_client.get(row[1].link)
    with_practice = admin_client.get(reverse("outreach:touch_list"), everything)

    assert (query["since"], query["until"]) == (["2026-06-01"], ["2026-06-30"])
    assert named.context["page"].paginator.count == row[1].value == 2
    assert "at any practice" in named.content.decode()
    assert with_practice.context["page"].paginator.count == 3  # and the lunch at their primary practice
