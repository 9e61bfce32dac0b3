"""The trail is append-only and chained: changes are refused, and what gets through shows in audit_verify."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.chain import chain_verify
from audit.models import AccessEvent, AccessEventReferral, AccessKind, AppendOnlyError, ChainHead
from audit.services import Access, access_record

# The trigger exists on PostgreSQL only.
postgres_only = pytest.mark.postgresql


def record(organization, *, referral_ids=(), user=None, kind=AccessKind.PAGE, at=None):
    return access_record(
        organization=organization,
        access=Access(
            kind=kind,
            user=user,
            ip_address="203.0.113.9",
            path_name="referrals:list",
            referral_ids=frozenset(referral_ids),
        ),
        at=at,
    )


def test_events_are_numbered_and_chained_per_organization(summit, harbor, summit_admin):
    first = record(summit, referral_ids=[3, 1, 2], user=summit_admin.user)
    record(harbor)
    second = record(summit)

    events = AccessEvent.objects.filter(organization=summit).order_by("seq")
    assert [(event.pk, event.seq) for event in events] == [(first, 1), (second, 2)]
    assert events[1].prev_hash == events[0].hash
    assert AccessEvent.objects.get(organization=harbor).seq == 1
    assert sorted(
        AccessEventReferral.objects.filter(event_id=first).values_list("referral_id", flat=True)
    ) == [
        1,
        2,
        3,
    ]
    assert ChainHead.objects.get(organization=summit).last_hash == events[1].hash
    assert chain_verify(organization=summit).intact
    assert chain_verify(organization=harbor).intact


def test_an_ipv6_address_hashes_as_the_database_returns_it(summit):
    access_record(organization=summit, access=Access(kind=AccessKind.PAGE, ip_address="2001:DB8:0:0::1"))
    access_record(organization=summit, access=Access(kind=AccessKind.PAGE, ip_address="::ffff:192.0.2.1"))

    assert list(AccessEvent.objects.order_by("seq").values_list("ip_address", flat=True)) == [
        "2001:db8::1",
        "192.0.2.1",
    ]
    assert chain_verify(organization=summit).intact


def test_the_app_has_no_way_to_change_or_delete_an_event(summit):
    record(summit, referral_ids=[7])
    event = AccessEvent.objects.get()

    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AccessEventReferral.objects.get().delete()


@postgres_only
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_accessevent SET kind = 'page', detail = 'edited'",
        "DELETE FROM audit_accessevent",
        "UPDATE audit_accesseventreferral SET referral_id = 99",
        "DELETE FROM audit_accesseventreferral",
    ],
)
def test_postgresql_refuses_raw_updates_and_deletes(summit, statement):
    record(summit, referral_ids=[7])

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)

    assert AccessEvent.objects.count() == 1
    assert AccessEventReferral.objects.count() == 1


@postgres_only
def test_the_orm_bulk_paths_are_refused_too(summit):
    record(summit)

    with pytest.raises(DatabaseError), transaction.atomic():
        AccessEvent.objects.update(detail="edited")
    with pytest.raises(DatabaseError), transaction.atomic():
        AccessEvent.objects.filter(organization=summit)._raw_delete("default")


def _tamper(sql, params):
    """What someone with the database's superuser keys could do: on PostgreSQL, with triggers switched off."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = origin")


@pytest.fixture
def chain(summit, summit_admin):
    for referral_id in (11, 12, 13, 14):
        record(summit, referral_ids=[referral_id], user=summit_admin.user)
    return {event.seq: event for event in AccessEvent.objects.filter(organization=summit)}


def _verify(summit):
    report = chain_verify(organization=summit)
    return report.problems


def test_an_altered_event_is_found(summit, chain):
    _tamper("UPDATE audit_accessevent SET ip_address = %s WHERE id = %s", ["198.51.100.1", chain[2].pk])

    assert _verify(summit) == ["event #2: its fields were changed after it was written"]


def test_an_altered_list_of_referrals_is_found(summit, chain):
    _tamper("UPDATE audit_accesseventreferral SET referral_id = 99 WHERE event_id = %s", [chain[3].pk])

    assert _verify(summit) == ["event #3: its fields were changed after it was written"]


def test_a_deleted_event_is_found(summit, chain):
    _tamper("DELETE FROM audit_accesseventreferral WHERE event_id = %s", [chain[2].pk])
    _tamper("DELETE FROM audit_accessevent WHERE id = %s", [chain[2].pk])

    assert _verify(summit) == [
        "event #3: expected #2 (events missing or inserted between them)",
        "event #3: does not follow the event before it",
    ]


def test_the_last_event_deleted_is_found(summit, chain):
    _tamper("DELETE FROM audit_accesseventreferral WHERE event_id = %s", [chain[4].pk])
    _tamper("DELETE FROM audit_accessevent WHERE id = %s", [chain[4].pk])

    assert _verify(summit) == ["the chain ends at #3 but 4 events were written"]


def test_an_inserted_event_is_found(summit, chain):
    """A forged event with a fresh number at the end, and one with a copied hash in the middle."""
    forged = chain[4]
    _tamper(
        "INSERT INTO audit_accessevent (organization_id, seq, at, user_id, ip_address, kind, path_name, "
        "object_type, object_id, detail, referral_count, prev_hash, hash) "
        "VALUES (%s, 5, %s, NULL, NULL, 'page', 'referrals:list', '', NULL, '', 0, %s, %s)",
        [summit.pk, connection.ops.adapt_datetimefield_value(timezone.now()), forged.hash, "f" * 64],
    )

    assert _verify(summit) == [
        "event #5: its fields were changed after it was written",
        "the chain ends at #5 but 4 events were written",
    ]


def test_audit_verify_passes_then_fails_after_a_change_by_hand(summit, chain, capsys):
    call_command("audit_verify")
    assert "4 events verified, chain intact" in capsys.readouterr().out

    _tamper(
        "UPDATE audit_accessevent SET at = %s WHERE id = %s",
        [
            connection.ops.adapt_datetimefield_value(chain[1].at - timedelta(days=1)),
            chain[1].pk,
        ],
    )

    with pytest.raises(CommandError, match="broken in 1 organization"):
        call_command("audit_verify", "--organization", summit.slug)
    assert "event #1: its fields were changed" in capsys.readouterr().out


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_writers_at_once_keep_one_unbroken_chain():
    """Four threads, each its own connection, append to one organization's chain at the same time."""
    import threading

    from django.db import connections

    from ..factories import OrganizationFactory

    organization = OrganizationFactory()
    errors = []

    def write(n):
        try:
            for _ in range(n):
                record(organization.pk, referral_ids=[1, 2])
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(25,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert list(AccessEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, 101))
    assert chain_verify(organization=organization).intact
