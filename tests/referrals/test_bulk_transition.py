"""Moving ticked referrals at once: all or none, the same rules and history as one move, flat queries."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from referrals.models import Referral, Status, StatusChange
from referrals.services import ReferralsNotMoved, referral_transition, referral_transition_many

from ..factories import ReferralFactory


def history(referral: Referral) -> list[tuple]:
    return list(
        StatusChange.objects.filter(referral=referral)
        .order_by("pk")
        .values_list("organization_id", "from_status", "to_status", "loss_reason", "changed_by_id")
    )


def test_a_bulk_move_writes_what_a_single_move_writes(summit, summit_admin):
    alone, together = ReferralFactory(organization=summit), ReferralFactory(organization=summit)

    referral_transition(
        referral=alone, user=summit_admin.user, to_status=Status.LOST, loss_reason="unreachable"
    )
    [moved] = referral_transition_many(
        organization=summit,
        user=summit_admin.user,
        referral_ids=[together.pk],
        to_status=Status.LOST,
        loss_reason="unreachable",
    )

    alone.refresh_from_db()
    together.refresh_from_db()
    assert history(together) == history(alone)
    for field in ("status", "loss_reason", "version"):
        assert getattr(together, field) == getattr(alone, field) == getattr(moved, field)
    assert together.updated_at > together.created_at


def test_one_referral_that_cannot_move_keeps_them_all_where_they_were(summit, summit_admin):
    received = ReferralFactory(organization=summit)
    discharged = ReferralFactory(organization=summit, status=Status.DISCHARGED)

    with pytest.raises(ReferralsNotMoved) as refusal:
        referral_transition_many(
            organization=summit,
            user=summit_admin.user,
            referral_ids=[received.pk, discharged.pk],
            to_status=Status.LOST,
            loss_reason="unreachable",
        )

    assert refusal.value.messages == [
        f"#{discharged.number}: A discharged referral cannot become lost; it can become: nothing."
    ]
    assert Referral.objects.get(pk=received.pk).status == Status.RECEIVED
    assert not StatusChange.objects.filter(to_status=Status.LOST).exists()


def test_every_refusal_is_named_and_a_loss_needs_its_reason(summit, summit_admin):
    first, second = ReferralFactory(organization=summit), ReferralFactory(organization=summit)

    with pytest.raises(ReferralsNotMoved) as refusal:
        referral_transition_many(
            organization=summit, user=summit_admin.user, referral_ids=[first.pk, second.pk], to_status="lost"
        )

    assert refusal.value.messages == [
        f"#{first.number}: Say why the referral was lost.",
        f"#{second.number}: Say why the referral was lost.",
    ]


def test_another_organizations_referral_is_refused_not_moved(summit, harbor, summit_admin):
    ours, theirs = ReferralFactory(organization=summit), ReferralFactory(organization=harbor)

    with pytest.raises(ReferralsNotMoved) as refusal:
        referral_transition_many(
            organization=summit,
            user=summit_admin.user,
            referral_ids=[ours.pk, theirs.pk],
            to_status=Status.CONTACTED,
        )

    assert refusal.value.messages == ["No such referral: 1 of those ticked."]
    assert Referral.objects.get(pk=theirs.pk).status == Status.RECEIVED
    assert Referral.objects.get(pk=ours.pk).status == Status.RECEIVED


def test_an_unknown_status_is_a_clear_error(summit, summit_admin):
    referral = ReferralFactory(organization=summit)

    with pytest.raises(ValidationError, match="Choose where to move"):
        referral_transition_many(
            organization=summit, user=summit_admin.user, referral_ids=[referral.pk], to_status="gone"
        )


@pytest.mark.parametrize("count", [1, 20])
def test_a_bulk_move_runs_the_same_queries_for_1_or_20_referrals(
    summit, summit_admin, count, django_assert_num_queries
):
    ids = [ReferralFactory(organization=summit).pk for _ in range(count)]

    # Savepoint and release, lock and read, insert the history, update the referrals,
    # insert their change-history rows, then the apps that keep figures about
    # referrals rewrite theirs (analytics: four reads, outcome scores among them, an upsert).
    with django_assert_num_queries(11):
        moved = referral_transition_many(
            organization=summit, user=summit_admin.user, referral_ids=ids, to_status=Status.CONTACTED
        )

    assert len(moved) == count
    assert set(Referral.objects.filter(pk__in=ids).values_list("status", flat=True)) == {Status.CONTACTED}
    assert StatusChange.objects.filter(referral_id__in=ids, to_status=Status.CONTACTED).count() == count


def test_the_list_page_says_nothing_moved_and_why(desk, summit):
    received = ReferralFactory(organization=summit)
    discharged = ReferralFactory(organization=summit, status=Status.DISCHARGED)

    response = desk.post(
        reverse("referrals:bulk_transition"),
        {"referrals": [received.pk, discharged.pk], "to_status": "lost", "loss_reason": "unreachable"},
        follow=True,
    )

    page = response.content.decode()
    assert "Nothing was moved: 1 of the referrals you ticked cannot become lost." in page
    assert f"#{discharged.number}: A discharged referral cannot become lost" in page
    assert Referral.objects.get(pk=received.pk).status == Status.RECEIVED


def test_the_list_page_moves_them_all(desk, summit):
    referrals = [ReferralFactory(organization=summit) for _ in range(3)]

    response = desk.post(
        reverse("referrals:bulk_transition"),
        {"referrals": [r.pk for r in referrals], "to_status": "contacted"},
        follow=True,
    )

    assert "Moved 3 referrals." in response.content.decode()
    assert set(Referral.objects.values_list("status", flat=True)) == {Status.CONTACTED}
