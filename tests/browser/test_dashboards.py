"""Every dashboard in Chromium, for both demo organizations: charts drawn, tables full, no console error.

Each page is also saved as a screenshot under test-results/dashboards/ for a
person to look at.
"""

from pathlib import Path

import pytest

from analytics.sections import dashboard_sections

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parent.parent.parent / "test-results" / "dashboards"
# Whether a canvas holds a drawing: some pixel that is not blank.
DRAWN = """canvas => {
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) return true; }
  return false;
}"""
# The numbers Chart.js was given, for each chart on the page.
PLOTTED = """() => [...document.querySelectorAll("canvas[data-chart]")].map(canvas => {
  const chart = window.Chart.getChart(canvas);
  return chart ? chart.data.datasets.flatMap(set => set.data).filter(v => v) .length : -1;
})"""


@pytest.mark.parametrize("username", ["summit.admin", "harbor.admin"])
def test_every_dashboard_draws_its_charts_beside_full_tables(page, live_server, demo, username):
    SHOTS.mkdir(parents=True, exist_ok=True)
    sign_in(page, live_server, username)
    for section in dashboard_sections():
        page.goto(f"{live_server.url}/analytics/{section.key}/")
        page.get_by_role("heading", name=section.title, exact=True).wait_for()
        page.screenshot(path=SHOTS / f"{username}-{section.key}.png", full_page=True)

        canvases = page.locator("canvas[data-chart]")
        assert canvases.count() >= 1, section.key
        plotted = page.evaluate(PLOTTED)
        assert all(count > 0 for count in plotted), (section.key, plotted)
        assert all(canvases.nth(n).evaluate(DRAWN) for n in range(canvases.count())), section.key
        assert page.locator("table tbody tr").count() >= canvases.count(), section.key
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280, section.key
        assert page.console_errors == [], section.key


def test_the_front_desk_sees_the_pipeline_and_no_money(page, live_server, demo):
    sign_in(page, live_server, "summit.frontdesk")
    page.goto(f"{live_server.url}/analytics/")

    page.get_by_role("heading", name="Pipeline", exact=True).wait_for()
    assert page.get_by_role("link", name="Revenue by source").count() == 0
    assert page.console_errors == []


def test_no_dashboard_is_wider_than_a_phone(page, live_server, demo):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, "summit.admin")
    for section in dashboard_sections():
        page.goto(f"{live_server.url}/analytics/{section.key}/")
        page.get_by_role("heading", name=section.title, exact=True).wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, section.key
    assert page.console_errors == []


def test_a_therapist_sees_the_outcomes_of_their_own_caseload(page, live_server, demo):
    sign_in(page, live_server, "summit.therapist")
    page.goto(f"{live_server.url}/analytics/")

    page.get_by_role("heading", name="Outcomes and experience by source", exact=True).wait_for()
    assert page.get_by_text("Your own caseload").count() == 1
    assert page.get_by_role("link", name="Pipeline", exact=True).count() == 0
    assert page.locator("canvas[data-chart]").count() >= 1
    assert page.console_errors == []
