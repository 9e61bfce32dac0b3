"""A lost or discharged referral offers what is left to do with it, and nothing more."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertInHTML

from referrals.models import LossReason, PlanOfCare, Status
from referrals.services import PlanOfCareFields, plan_of_care_save

from ..factories import PlanOfCareFactory, ReferralFactory


def detail(client, referral) -> str:
    return client.get(reverse("referrals:detail", args=[referral.pk])).content.decode()


def plan_data(referral) -> dict:
    return {"certifier": referral.physician_id, "starts_on": timezone.localdate()}


def test_a_lost_referral_offers_reopen_and_no_new_plan_of_care(desk, summit):
    lost = ReferralFactory(organization=summit, status=Status.LOST, loss_reason=LossReason.UNREACHABLE)

    page = detail(desk, lost)

    assertInHTML('<button class="btn btn-primary" type="submit">Reopen</button>', page)
    assert "Mark received" not in page
    assert "Lost: unreachable." in page
    assert reverse("referrals:plan_create", args=[lost.pk]) not in page
    assert "reopen it first" in page


def test_reopen_puts_a_lost_referral_back_in_the_queue(desk, summit):
    lost = ReferralFactory(organization=summit, status=Status.LOST, loss_reason=LossReason.DECLINED)

    desk.post(
        reverse("referrals:transition", args=[lost.pk]), {"to_status": "received", "version": lost.version}
    )

    lost.refresh_from_db()
    assert (lost.status, lost.loss_reason) == (Status.RECEIVED, "")
    assert reverse("referrals:plan_create", args=[lost.pk]) in detail(desk, lost)


def test_a_discharged_referral_offers_no_new_plan_and_no_reopen(desk, summit):
    discharged = ReferralFactory(organization=summit, status=Status.DISCHARGED)

    page = detail(desk, discharged)

    assert reverse("referrals:plan_create", args=[discharged.pk]) not in page
    assert "Reopen" not in page
    assert "Discharged: no new plan of care." in page


@pytest.mark.parametrize("status", [Status.RECEIVED, Status.EVALUATED, Status.IN_CARE])
def test_an_open_referral_still_offers_a_plan_of_care(desk, summit, status):
    referral = ReferralFactory(organization=summit, status=status)

    assert reverse("referrals:plan_create", args=[referral.pk]) in detail(desk, referral)


@pytest.mark.parametrize(
    ("status", "loss_reason", "refusal"),
    [
        (Status.LOST, LossReason.OTHER, "A lost referral takes no new plan of care: reopen it first."),
        (Status.DISCHARGED, "", "A discharged referral takes no new plan of care."),
    ],
)
def test_a_new_plan_for_a_closed_referral_is_refused_with_a_reason(
    desk, summit, status, loss_reason, refusal
):
    referral = ReferralFactory(organization=summit, status=status, loss_reason=loss_reason)

    response = desk.post(reverse("referrals:plan_create", args=[referral.pk]), plan_data(referral))

    assert refusal in [str(message) for message in get_messages(response.wsgi_request)]
    assert not PlanOfCare.objects.exists()


def test_a_signature_arriving_after_discharge_is_still_recorded(summit):
    plan = PlanOfCareFactory(
        organization=summit, referral__status=Status.DISCHARGED, sent_on=timezone.localdate()
    )

    plan_of_care_save(
        organization=summit,
        referral=plan.referral,
        plan=plan,
        fields=PlanOfCareFields(
            certifier=plan.certifier,
            starts_on=plan.starts_on,
            ends_on=plan.ends_on,
            sent_on=plan.sent_on,
            signed_on=timezone.localdate(),
        ),
    )

    plan.refresh_from_db()
    assert plan.signed_on == timezone.localdate()
