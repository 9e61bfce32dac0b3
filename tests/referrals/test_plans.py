from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from clinics.models import Role
from referrals.models import PlanOfCare, ReferralSettings, Status
from referrals.plans import PlanStatus, plan_state
from referrals.selectors import plans_awaiting_signature, referral_settings_get
from referrals.services import PlanOfCareFields, plan_of_care_save
from tests.audit.queries import access_event_queries

from ..factories import (
    AffiliationFactory,
    GatekeeperFactory,
    PhysicianFactory,
    PlanOfCareFactory,
    ReferralFactory,
)

TODAY = date(2026, 11, 27)


def state(plan, **kwargs):
    return plan_state(
        plan,
        rules=referral_settings_get(organization=plan.organization),
        today=kwargs.pop("today", TODAY),
        care_continues=True,
    )


@pytest.mark.parametrize(
    ("started_days_ago", "sent", "signed", "expected"),
    [
        (5, False, False, PlanStatus.NOT_SENT),
        (5, True, False, PlanStatus.AWAITING_SIGNATURE),
        (30, True, False, PlanStatus.AWAITING_SIGNATURE),  # day 30 is still in time
        (31, True, False, PlanStatus.OVERDUE),
        (31, False, False, PlanStatus.OVERDUE),
        (40, True, True, PlanStatus.SIGNED),
        (76, True, True, PlanStatus.RECERTIFICATION_DUE),  # 14 days before the 90-day certification ends
    ],
)
def test_plan_status_follows_the_30_and_90_day_rules(summit, started_days_ago, sent, signed, expected):
    starts = TODAY - timedelta(days=started_days_ago)
    plan = PlanOfCareFactory(
        organization=summit,
        starts_on=starts,
        ends_on=starts + timedelta(days=89),
        sent_on=starts + timedelta(days=1) if sent else None,
        signed_on=starts + timedelta(days=3) if signed else None,
    )

    assert state(plan).status == expected


def test_signature_window_is_an_organization_setting(summit):
    ReferralSettings.objects.create(organization=summit, poc_signature_days=45)
    plan = PlanOfCareFactory(organization=summit, starts_on=TODAY - timedelta(days=40), sent_on=TODAY)

    assert state(plan).status == PlanStatus.AWAITING_SIGNATURE


def test_a_chiropractor_certifier_is_warned_about(summit):
    chiropractor = PhysicianFactory(organization=summit, taxonomy_code="111N00000X", credential="DC")
    plan = PlanOfCareFactory(organization=summit, certifier=chiropractor)

    assert "chiropractor cannot certify" in state(plan).certifier_warning


def test_the_end_of_the_certification_defaults_to_the_organization_maximum(summit):
    referral = ReferralFactory(organization=summit)

    plan = plan_of_care_save(
        organization=summit,
        referral=referral,
        fields=PlanOfCareFields(certifier=referral.physician, starts_on=date(2026, 11, 2)),
    )

    assert plan.ends_on == date(2027, 1, 30)  # 90 days including the first


def test_plan_cannot_end_before_it_starts_or_be_signed_before_sent(summit):
    referral = ReferralFactory(organization=summit)
    with pytest.raises(Exception, match="cannot end before it starts"):
        plan_of_care_save(
            organization=summit,
            referral=referral,
            fields=PlanOfCareFields(
                certifier=referral.physician, starts_on=date(2026, 11, 2), ends_on=date(2026, 11, 1)
            ),
        )
    with pytest.raises(Exception, match="signed before it was sent"):
        plan_of_care_save(
            organization=summit,
            referral=referral,
            fields=PlanOfCareFields(
                certifier=referral.physician,
                starts_on=date(2026, 11, 2),
                sent_on=date(2026, 11, 5),
                signed_on=date(2026, 11, 4),
            ),
        )
    assert not PlanOfCare.objects.exists()


def test_awaiting_page_groups_by_practice_with_the_gatekeeper_to_call(
    client, summit, member_factory, django_assert_max_num_queries
):
    affiliation = AffiliationFactory(organization=summit)
    GatekeeperFactory(organization=summit, practice=affiliation.practice, first_name="Tina")
    for _ in range(3):
        referral = ReferralFactory(
            organization=summit, physician=affiliation.physician, status=Status.EVALUATED
        )
        PlanOfCareFactory(
            organization=summit, referral=referral, starts_on=timezone.localdate() - timedelta(days=35)
        )
    other = ReferralFactory(organization=summit, status=Status.IN_CARE)
    PlanOfCareFactory(organization=summit, referral=other)
    PlanOfCareFactory(organization=summit, referral__status=Status.DISCHARGED)  # closed: not listed
    PlanOfCareFactory(organization=summit, referral__status=Status.IN_CARE, signed_on=timezone.localdate())
    client.force_login(member_factory(summit, Role.FRONT_DESK).user)
    referral_settings_get(organization=summit)  # made by the organization's first page that reads it

    with django_assert_max_num_queries(11 + access_event_queries()):  # ten, the plan-of-care rules
        response = client.get(reverse("referrals:plans_awaiting"))

    groups = response.context["groups"]
    assert [len(group.rows) for group in groups] == [3, 1]
    assert groups[0].practice == affiliation.practice
    assert [g.first_name for g in groups[0].gatekeepers] == ["Tina"]
    assert {row.state.status for row in groups[0].rows} == {PlanStatus.OVERDUE}
    assert "Call Tina" in response.content.decode()


def test_recording_sending_and_signature_from_the_referral_page(client, summit, member_factory):
    plan = PlanOfCareFactory(organization=summit, referral__status=Status.EVALUATED)
    client.force_login(member_factory(summit, Role.FRONT_DESK).user)
    url = reverse("referrals:plan_update", args=[plan.referral_id, plan.pk])
    common = {"certifier": plan.certifier_id, "starts_on": plan.starts_on, "ends_on": plan.ends_on}

    client.post(url, {**common, "sent_on": timezone.localdate()})
    client.post(url, {**common, "sent_on": timezone.localdate(), "signed_on": timezone.localdate()})

    plan.refresh_from_db()
    assert plan.sent_on == plan.signed_on == timezone.localdate()
    assert plans_awaiting_signature(organization=summit, today=timezone.localdate()) == []


def test_a_new_plan_refused_comes_back_as_typed_with_the_errors_beside_it(client, summit, member_factory):
    referral = ReferralFactory(organization=summit, status=Status.EVALUATED)
    other = PhysicianFactory(organization=summit, last_name="Okafor")
    client.force_login(member_factory(summit, Role.THERAPIST).user)
    typed = {"certifier": other.pk, "starts_on": "2026-11-20", "ends_on": "2026-11-02"}
    typed["sent_on"] = "2026-11-21"

    response = client.post(reverse("referrals:plan_create", args=[referral.pk]), typed)

    assert response.status_code == 200
    assert not PlanOfCare.objects.exists()
    page = response.content.decode()
    assert "The plan was not saved" in page
    form = response.context["plan_form"]
    assert form.errors
    for name in ("starts_on", "ends_on", "sent_on"):
        assert f'value="{typed[name]}"' in page
    assert response.context["plan_certifier_id"] == other.pk
    assert f'value="{other.pk}"' in page


def test_a_new_plan_missing_its_first_day_says_so_beside_the_field(client, summit, member_factory):
    referral = ReferralFactory(organization=summit, status=Status.EVALUATED)
    client.force_login(member_factory(summit, Role.THERAPIST).user)

    response = client.post(
        reverse("referrals:plan_create", args=[referral.pk]),
        {"certifier": referral.physician_id, "sent_on": "2026-11-21"},
    )

    assert response.status_code == 200
    assert response.context["plan_form"].errors["starts_on"]
    assert 'value="2026-11-21"' in response.content.decode()


def test_a_certifier_typed_but_not_chosen_comes_back_as_typed_not_as_the_referrer(
    client, summit, member_factory
):
    referral = ReferralFactory(organization=summit, status=Status.EVALUATED)
    client.force_login(member_factory(summit, Role.THERAPIST).user)

    response = client.post(
        reverse("referrals:plan_create", args=[referral.pk]),
        {"certifier": "", "q": "Dr. Nobody", "starts_on": "2026-11-20"},
    )

    assert response.context["plan_form"].errors["certifier"] == [
        "Choose the physician who certifies the plan."
    ]
    assert (response.context["plan_certifier_id"], response.context["plan_certifier_label"]) == (
        "",
        "Dr. Nobody",
    )
    assert f'name="certifier" value="{referral.physician_id}"' not in response.content.decode()


def test_a_plan_for_a_referral_closed_meanwhile_says_why_it_was_not_saved(client, summit, member_factory):
    referral = ReferralFactory(organization=summit, status=Status.LOST, loss_reason="declined")
    client.force_login(member_factory(summit, Role.THERAPIST).user)

    response = client.post(
        reverse("referrals:plan_create", args=[referral.pk]),
        {"certifier": referral.physician_id, "starts_on": "2026-11-20"},
        follow=True,
    )

    assert response.redirect_chain == [(reverse("referrals:detail", args=[referral.pk]), 302)]
    assert [str(message) for message in response.context["messages"]]
    assert not PlanOfCare.objects.exists()
