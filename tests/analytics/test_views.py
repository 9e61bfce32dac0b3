"""The dashboards as people use them: who sees what, the drill-downs, the CSV, filters, query counts."""

import csv
import io
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from analytics import selectors
from analytics.rollups import rollups_rebuild
from analytics.sections import dashboard_sections
from referrals.models import Referral, Status

from ..factories import ClinicFactory, PhysicianFactory, ReferralFactory, TouchFactory
from .conftest import NOW, PERIOD

SECTIONS = [section.key for section in dashboard_sections()]


def page(client, key, **params):
    return client.get(reverse(f"analytics:{key}"), {**PERIOD, **params})


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("admin", {"pipeline", "sources", "revenue", "outreach", "outcomes", "plans"}),
        ("liaison", {"pipeline", "sources", "outreach", "outcomes", "plans"}),
        ("front_desk", {"pipeline"}),
        ("therapist", {"outcomes"}),
    ],
)
def test_each_role_sees_its_dashboards_and_only_admins_see_revenue(
    world, login, client_factory, role, allowed
):
    client = login(getattr(world, role), client_factory())
    for key in SECTIONS:
        expected = 200 if key in allowed else 403
        assert page(client, key).status_code == expected, key
        assert client.get(reverse(f"analytics:{key}_export"), PERIOD).status_code == expected, key
    first = "pipeline" if "pipeline" in allowed else "outcomes"
    assert client.get(reverse("analytics:index")).url.startswith(reverse(f"analytics:{first}"))
    body = page(client, "pipeline").content.decode() if "pipeline" in allowed else ""
    assert ("Revenue by source" in body) == ("revenue" in allowed)


def test_another_organizations_figures_never_show(world, harbor_admin, login, client_factory):
    harbor_clinic = ClinicFactory(organization=harbor_admin.organization)
    ReferralFactory(
        organization=harbor_admin.organization, clinic=harbor_clinic, received_at=NOW - timedelta(days=3)
    )
    rollups_rebuild(organization=harbor_admin.organization)
    client = login(harbor_admin, client_factory())

    response = page(client, "pipeline")
    funnel = response.context["data"].table("funnel")

    assert funnel.rows[0][1].value == 1  # Harbor's one referral, none of Summit's six
    assert world.physician_a.last_name not in page(client, "sources").content.decode()
    # Summit's clinic is no choice of Harbor's form: a foreign id is a form error, not a leak.
    foreign = page(client, "pipeline", clinic=world.clinic.pk)
    assert foreign.status_code == 200
    assert foreign.context["form"].errors


def linked_cells(data):
    referral_list = reverse("referrals:list")
    for table in data.tables:
        for row in table.rows:
            for cell in row:
                if urlsplit(cell.link).path == referral_list and isinstance(cell.value, int):
                    yield table.key, cell
    for headline in data.headlines:
        if urlsplit(headline.link).path == referral_list and isinstance(headline.value, int):
            yield "headline", headline


@pytest.mark.parametrize("key", ["pipeline", "sources", "revenue", "outreach", "plans"])
def test_every_figure_links_to_the_referrals_that_make_it(world, admin_client, key):
    data = page(admin_client, key).context["data"]
    checked = 0
    for where, figure in linked_cells(data):
        listed = admin_client.get(figure.link)
        assert listed.status_code == 200
        assert listed.context["page"].paginator.count == figure.value, (where, figure)
        checked += 1
    assert checked


def test_the_drill_down_names_its_filters_in_words(world, admin_client):
    data = page(admin_client, "pipeline").context["data"]
    lost = next(cell for cell in data.table("funnel").rows[2] if "funnel=lost_" in cell.link)

    listed = admin_client.get(lost.link).content.decode()

    assert "Funnel: Lost after scheduling, before the evaluation" in listed
    assert "Received on or after: Jun 1, 2026" in listed


def test_referrals_with_no_payer_or_specialty_recorded_lead_to_those_referrals(world, admin_client):
    # A referral whose physician had no specialty on record when it came in.
    Referral.objects.filter(pk=world.referrals["R4"].pk).update(referring_taxonomy_code="")
    rollups_rebuild(organization=world.organization)
    payers = page(admin_client, "revenue").context["data"].table("revenue_payers")
    specialties = page(admin_client, "sources").context["data"].table("specialties")
    no_payer = next(row for row in payers.rows if row[0].text == "No payer recorded")[1]
    no_specialty = next(row for row in specialties.rows if row[0].text == "No specialty")[1]

    unpaid = admin_client.get(no_payer.link)
    unknown = admin_client.get(no_specialty.link)

    assert {referral.number for referral in unpaid.context["page"]} == {
        world.referrals[name].number for name in ("R3", "R5")
    }
    assert no_payer.value == 2
    assert "Not recorded: payer" in unpaid.content.decode()
    assert [referral.pk for referral in unknown.context["page"]] == [world.referrals["R4"].pk]
    assert no_specialty.value == 1


def test_previous_period_links_reproduce_the_previous_figures(world, admin_client):
    funnel = page(admin_client, "pipeline").context["data"].table("funnel")
    previous = funnel.rows[3][5]  # evaluated, May 2–31: R6

    query = parse_qs(urlsplit(previous.link).query)
    assert (query["received_since"], query["received_until"]) == (["2026-05-02"], ["2026-05-31"])
    assert admin_client.get(previous.link).context["page"].paginator.count == previous.value == 1


def test_my_sources_for_a_liaison(world, login, client_factory):
    client = login(world.liaison, client_factory())

    everyone = page(client, "pipeline")
    mine = page(client, "pipeline", owner=world.liaison.user.pk)

    assert "Only my sources" in everyone.content.decode()
    assert mine.context["data"].table("funnel").rows[0][1].value == 3


def test_a_bad_period_is_a_form_error_not_a_500(world, admin_client):
    backwards = page(admin_client, "pipeline", start="2026-06-30", end="2026-06-01")
    garbled = page(admin_client, "pipeline", start="not a date")
    too_long = page(admin_client, "pipeline", start="2020-01-01", end="2026-06-01")

    for response in (backwards, garbled, too_long):
        assert response.status_code == 200
        assert response.context["form"].errors
    assert "must start on or before" in backwards.content.decode()


def test_the_csv_export_has_every_table_and_is_formula_safe(world, admin_client):
    world.physician_a.last_name = "=HYPERLINK(1)"
    world.physician_a.save()

    response = admin_client.get(reverse("analytics:revenue_export"), PERIOD)
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))

    assert response["Content-Disposition"] == 'attachment; filename="revenue-2026-06-01-2026-06-30.csv"'
    titles = {table.title for table in page(admin_client, "revenue").context["data"].tables}
    assert titles <= {row[0] for row in rows if row}
    assert not any(cell.startswith("=") for row in rows for cell in row)
    assert ["Medicare Part B", "1", "3", "300.00", "170.00", "170.00", "3.0"] in rows


def build_volume(world, count):
    """`count` more referrals and touches over many physicians (factories, then the rollups rebuilt)."""
    org = world.organization
    physicians = [
        PhysicianFactory(organization=org, owner=world.liaison.user) for _ in range(max(1, count // 10))
    ]
    for n in range(count):
        ReferralFactory(
            organization=org,
            clinic=world.clinic,
            physician=physicians[n % len(physicians)],
            payer=world.aetna,
            status=[Status.RECEIVED, Status.CONTACTED, Status.LOST][n % 3],
            loss_reason="other" if n % 3 == 2 else "",
            received_at=NOW - timedelta(days=1 + n % 80, hours=n % 7),
        )
        TouchFactory(
            organization=org,
            physician=physicians[n % len(physicians)],
            made_by=world.liaison.user,
            occurred_at=NOW - timedelta(days=5 + n % 100),
        )
    rollups_rebuild(organization=org)


@pytest.mark.parametrize("key", ["pipeline", "sources", "revenue", "outreach", "outcomes", "plans"])
def test_query_counts_stay_flat_from_one_referral_to_five_hundred(
    world, admin_client, key, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    build_volume(world, 1)
    with CaptureQueriesContext(connection) as few:
        assert page(admin_client, key).status_code == 200
    build_volume(world, 499)

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert page(admin_client, key).status_code == 200


def test_sections_build_within_their_stated_queries(world, django_assert_max_num_queries):
    from analytics.filters import DashboardFilters, Period

    filters = DashboardFilters(
        organization=world.organization,
        period=Period(start=NOW.date() - timedelta(days=29), end=NOW.date()),
        today=NOW.date(),
    )
    for build, most in (
        (selectors.pipeline, 5),
        (selectors.sources, 9),
        (selectors.revenue, 9),
        (selectors.outreach, 9),
        (selectors.outcomes, 10),
        (selectors.plans, 4),
    ):
        with django_assert_max_num_queries(most):
            build(filters)
