"""Each dashboard's figures against the scenario's figures worked out by hand (see conftest.py)."""

from datetime import date
from decimal import Decimal

import pytest

from analytics import selectors
from analytics.figures import Cell, Table, chart_of
from analytics.filters import DashboardFilters, Period
from physicians.models import Physician

from .conftest import NOW

JUNE = Period(start=date(2026, 6, 1), end=date(2026, 6, 30))


def june(world, **narrowing) -> DashboardFilters:
    return DashboardFilters(organization=world.organization, period=JUNE, today=NOW.date(), **narrowing)


def cells(table, column):
    index = table.columns.index(column)
    return {row[0].text: row[index].value for row in table.rows}


def headline(data, label):
    return next(item for item in data.headlines if item.label == label)


def test_a_chart_draws_its_tables_own_cells():
    table = Table(
        "kinds",
        "Touches by kind",
        ["Kind", "Now", "Before"],
        [[Cell("Visit"), Cell(3), Cell(Decimal("1.5"))], [Cell("Call"), Cell(None), Cell(2)]],
    )

    chart = chart_of(table, "By kind", "bar", {"This period": 1, "Previous period": 2}, unit="ratio")
    calls = chart_of(table, "Calls", "hbar", {"Before": 2}, key="calls", rows=table.rows[1:])

    assert chart.as_json() == {
        "kind": "bar",
        "title": "By kind",
        "labels": ["Visit", "Call"],
        "unit": "ratio",
        "series": [
            {"name": "This period", "values": [3.0, None]},
            {"name": "Previous period", "values": [1.5, 2.0]},
        ],
    }
    assert (calls.key, calls.table, calls.labels) == ("calls", "kinds", ["Call"])
    with pytest.raises(TypeError, match="numbers, not 'Visit'"):
        chart_of(table, "Words", "bar", {"Kind": 0})


def test_the_previous_period_is_as_long_and_ends_the_day_before():
    assert JUNE.previous == Period(start=date(2026, 5, 2), end=date(2026, 5, 31))
    assert Period(start=date(2026, 3, 1), end=date(2026, 3, 1)).previous == Period(
        start=date(2026, 2, 28), end=date(2026, 2, 28)
    )


def test_the_funnel_counts_every_step_reached_and_where_referrals_were_lost(world):
    data = selectors.pipeline(june(world))
    funnel = data.table("funnel")

    assert cells(funnel, "Reached") == {
        "Received": 5,
        "Contacted": 3,
        "Scheduled": 2,
        "Evaluated": 1,
        "Discharged": 1,
    }
    assert cells(funnel, "Lost at this step") == {
        "Received": 1,
        "Contacted": 0,
        "Scheduled": 1,
        "Evaluated": 0,
        "Discharged": None,
    }
    assert cells(funnel, "Previous period") == {
        "Received": 1,
        "Contacted": 1,
        "Scheduled": 1,
        "Evaluated": 1,
        "Discharged": 0,
    }
    assert cells(funnel, "Share of received")["Evaluated"] == 20.0
    assert cells(data.table("loss_reasons"), "Lost") == {
        "Unreachable": 1,
        "Patient declined": 1,
        "Insurance not accepted": 0,
        "Chose another provider": 0,
        "Physician cancelled": 0,
        "Other": 0,
    }
    conversion = headline(data, "Conversion (evaluated ÷ received)")
    assert (conversion.value, conversion.previous) == (20.0, 100.0)


def test_late_contacts_and_referrals_waiting_past_their_deadline(world):
    data = selectors.pipeline(june(world))

    # R2 was reached 26 hours after a 24-hour deadline, R3 lost 96 hours in; R5 still waits.
    assert headline(data, "Contacted after the deadline").value == 2
    assert headline(data, "Waiting past the deadline now").value == 1


def test_medians_and_90th_percentiles_of_the_days_to_each_milestone(world):
    milestones = selectors.pipeline(june(world)).table("milestones")

    # To contact: 2, 4 and 26 hours → 0.083, 0.167, 1.083 days: median 0.167,
    # 90th percentile 0.167 + 0.8 × (1.083 − 0.167) = 0.9.
    assert cells(milestones, "Referrals that got there") == {
        "Time to contact": 3,
        "Time to schedule": 2,
        "Time to first visit": 1,
    }
    assert cells(milestones, "Median") == {
        "Time to contact": 0.2,
        "Time to schedule": 2.0,
        "Time to first visit": 5.0,
    }
    assert cells(milestones, "90th percentile") == {
        "Time to contact": 0.9,
        "Time to schedule": 2.8,
        "Time to first visit": 5.0,
    }
    # May: R6 contacted after 1 hour.
    assert cells(milestones, "Median before")["Time to contact"] == 0.0


def test_open_referrals_by_step_and_clinic(world):
    table = selectors.pipeline(june(world)).table("open_by_clinic")

    assert [cell.value for cell in table.rows[0][1:]] == [1, 1, 0, 1, 0]  # R5; R4; R6 evaluated


def test_percentile_interpolates_between_ranks():
    assert selectors.percentile([], 0.5) is None
    assert selectors.percentile([4.0], 0.9) == 4.0
    assert selectors.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert selectors.percentile([10.0, 0.0, 5.0], 0.9) == pytest.approx(9.0)


def test_revenue_sums_what_each_sources_referrals_billed_and_collected(world):
    data = selectors.revenue(june(world))
    physicians = data.table("revenue_physicians")

    assert cells(physicians, "Referrals") == {
        world.physician_a.display_name: 3,
        world.physician_b.display_name: 2,
    }
    assert cells(physicians, "Billed") == {
        world.physician_a.display_name: Decimal("300.00"),
        world.physician_b.display_name: Decimal("200.00"),
    }
    # Payer and patient payments are collected; the $50 adjustment is not.
    assert cells(physicians, "Collected") == {
        world.physician_a.display_name: Decimal("170.00"),
        world.physician_b.display_name: Decimal("90.00"),
    }
    assert cells(physicians, "Collected per referral")[world.physician_a.display_name] == Decimal("56.67")
    assert cells(physicians, "Rank by referrals") == {
        world.physician_a.display_name: 1,
        world.physician_b.display_name: 2,
    }
    assert (headline(data, "Billed").value, headline(data, "Collected").value) == (
        Decimal("500.00"),
        Decimal("260.00"),
    )
    assert headline(data, "Visits per referral").value == 0.8
    assert cells(data.table("revenue_payers"), "Collected") == {
        "Medicare Part B": Decimal("170.00"),
        "Aetna": Decimal("90.00"),
        "No payer recorded": Decimal("0.00"),
    }


def test_payer_mix_gives_each_sources_referrals_by_payer(world):
    mix = selectors.revenue(june(world)).table("payer_mix")
    rows = {row[0].text: [cell.value for cell in row[1:]] for row in mix.rows}

    # Aetna has 2 referrals (R2, R4), Medicare 1 (R1), no payer 2 (R3, R5): columns by volume.
    assert mix.columns == ["Physician", "Aetna", "No payer", "Medicare Part B", "Other"]
    assert rows[world.physician_a.display_name] == [33.3, 33.3, 33.3, 0.0]
    assert rows[world.physician_b.display_name] == [50.0, 50.0, 0.0, 0.0]


def test_sources_rank_physicians_and_find_new_ones(world):
    data = selectors.sources(june(world))
    top = data.table("top_physicians")

    assert cells(top, "Referrals") == {world.physician_a.display_name: 3, world.physician_b.display_name: 2}
    assert cells(top, "Previous period") == {
        world.physician_a.display_name: 0,
        world.physician_b.display_name: 1,
    }
    assert cells(top, "Evaluated")[world.physician_a.display_name] == 1
    # A sent their first referral ever in June; B had sent one in May.
    assert [row[0].text for row in data.table("new_sources").rows] == [world.physician_a.display_name]
    assert cells(data.table("specialties"), "Referrals") == {
        "Orthopaedic Surgery": 3,
        "Family Medicine": 2,
    }


def test_namesakes_are_told_apart_by_their_npi(world):
    Physician.objects.filter(pk=world.physician_b.pk).update(
        first_name=world.physician_a.first_name, last_name=world.physician_a.last_name
    )
    top = selectors.sources(june(world)).table("top_physicians")

    assert [row[0].text for row in top.rows] == [
        f"{world.physician_a.display_name} (NPI {world.physician_a.npi})",
        f"{world.physician_a.display_name} (NPI {world.physician_b.npi})",
    ]


def test_filters_narrow_every_figure(world):
    mine = selectors.pipeline(june(world, owner=world.liaison.user))
    assert cells(mine.table("funnel"), "Reached")["Received"] == 3  # A's: R1, R2, R5

    family = selectors.pipeline(june(world, specialty="207Q00000X"))
    assert cells(family.table("funnel"), "Reached")["Received"] == 2  # B's: R3, R4


def test_plans_of_care_signed_in_time(world):
    data = selectors.plans(june(world))

    assert cells(data.table("plans"), "Plans") == {
        "Signed within 30 days": 1,
        "Signed later": 0,
        "Not signed yet": 0,
    }
    assert cells(data.table("plans"), "Previous period") == {
        "Signed within 30 days": 0,
        "Signed later": 1,
        "Not signed yet": 0,
    }
    signed = headline(data, "Signed within 30 days")
    assert (signed.value, signed.previous) == (100.0, 0.0)
