"""Events past the retention are pruned each night, as a prefix of the chain; the run is recorded."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import DatabaseError, transaction

from audit.chain import chain_verify
from audit.models import AccessEvent, AccessEventReferral, AccessKind, ChainHead
from audit.selectors import audit_settings_get
from audit.services import Access, access_record, audit_settings_update, events_prune
from audit.tasks import prune_events

NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)


def record(organization, at, referral_ids=()):
    access_record(
        organization=organization,
        access=Access(
            kind=AccessKind.PAGE, path_name="referrals:detail", referral_ids=frozenset(referral_ids)
        ),
        at=at,
    )


@pytest.fixture
def history(summit, harbor):
    for years_ago in (8, 7, 5, 1):
        record(summit, NOW - timedelta(days=365 * years_ago), referral_ids=[years_ago])
    record(harbor, NOW - timedelta(days=365 * 8))


def test_the_default_retention_is_six_years(summit):
    assert audit_settings_get(organization=summit).retention_years == 6


def test_prune_removes_the_old_prefix_and_records_its_run(summit, harbor, history):
    result = events_prune(organization=summit, now=NOW)

    assert result.removed == 2
    remaining = list(AccessEvent.objects.filter(organization=summit).order_by("seq"))
    assert [event.seq for event in remaining] == [3, 4, 5]
    assert remaining[-1].kind == AccessKind.PRUNE
    assert remaining[-1].detail == f"removed 2 events before {result.cutoff:%Y-%m-%d}"
    assert remaining[-1].user is None
    assert sorted(
        AccessEventReferral.objects.filter(organization=summit).values_list("referral_id", flat=True)
    ) == [
        1,
        5,
    ]
    head = ChainHead.objects.get(organization=summit)
    assert head.anchor_seq == 2
    report = chain_verify(organization=summit)
    assert report.intact, report.problems
    assert report.anchor_seq == 2
    # Another organization's events are its own business.
    assert AccessEvent.objects.filter(organization=harbor).count() == 1


def test_a_second_run_removes_nothing_and_says_so(summit, history):
    events_prune(organization=summit, now=NOW)

    again = events_prune(organization=summit, now=NOW)

    assert again.removed == 0
    assert AccessEvent.objects.filter(organization=summit).count() == 4
    assert chain_verify(organization=summit).intact


def test_a_longer_retention_keeps_more(summit, history):
    audit_settings_update(organization=summit, retention_years=10)

    assert events_prune(organization=summit, now=NOW).removed == 0


@pytest.mark.postgresql  # the trigger exists on PostgreSQL only
def test_the_prune_permission_ends_with_its_transaction(summit, history):
    events_prune(organization=summit, now=NOW)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AccessEvent.objects.filter(organization=summit)._raw_delete("default")


def test_the_beat_job_prunes_every_organization(summit, harbor, history, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with time_machine.travel(NOW, tick=False):
        prune_events.apply()

    assert AccessEvent.objects.filter(organization=summit, kind=AccessKind.PRUNE).count() == 1
    assert (
        AccessEvent.objects.filter(organization=harbor).values_list("kind", flat=True).get()
        == AccessKind.PRUNE
    )
    assert chain_verify(organization=harbor).intact


def test_the_job_is_on_the_beat_schedule(settings):
    assert "audit.prune_events" in {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
