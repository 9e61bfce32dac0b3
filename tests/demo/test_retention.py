"""Removing patient details past retention changes no figure: every dashboard, scorecard and rollup stays."""

import datetime

from django.urls import reverse

from accounts.models import User
from analytics.models import ReferralFact
from analytics.sections import dashboard_sections
from outcomes.selectors import scorecard, scorecard_sources
from referrals.models import Referral
from referrals.retention.services import patient_details_remove

# Far enough ahead that every referral the demo closed is past the default seven years.
LATER = datetime.timedelta(days=366 * 30)


def figures(client, organization) -> dict[str, object]:
    """Every dashboard's CSV export (its charts' and tables' numbers), the scorecard and its sources."""
    exported: dict[str, object] = {
        section.key: b"".join(client.get(reverse(f"analytics:{section.key}_export")).streaming_content)
        for section in dashboard_sections()
    }
    since, until = datetime.date(2000, 1, 1), datetime.date(2100, 1, 1)
    exported["scorecard"] = scorecard(organization=organization, since=since, until=until)
    exported["sources"] = scorecard_sources(organization=organization, since=since, until=until)
    return exported


def test_every_figure_and_rollup_is_the_same_after_the_demos_patient_details_go(demo, client):
    summit = demo["summit"]
    client.force_login(User.objects.get(username="summit.admin"))
    facts = list(ReferralFact.objects.filter(organization=summit).order_by("pk").values())
    before = figures(client, summit)

    runs = patient_details_remove(organization=summit, now=datetime.datetime.now(datetime.UTC) + LATER)

    removed = Referral.objects.filter(organization=summit, patient_details_removed_at__isnull=False)
    assert sum(run.referral_count for run in runs) == removed.count() > 100
    assert not removed.exclude(patient_last_name="").exists()
    assert figures(client, summit) == before
    assert list(ReferralFact.objects.filter(organization=summit).order_by("pk").values()) == facts
