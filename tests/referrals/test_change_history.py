"""Change history: every tracked record keeps who changed which field, from what, to what, and when."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinics.history import HistorySource, change_history, history_record_bulk
from clinics.models import Membership, Role
from clinics.phones import phone_display
from letters.models import LetterSettings
from outcomes.models import OutcomeScore
from outreach.models import OutreachSettings, Touch
from physicians.models import Gatekeeper, Physician, Practice
from referrals.models import PlanOfCare, Referral, ReferralSettings, Status
from referrals.services import referral_transition_many

from ..factories import (
    GatekeeperFactory,
    MembershipFactory,
    PhysicianFactory,
    PlanOfCareFactory,
    PracticeFactory,
    ReferralFactory,
    TouchFactory,
)
from ..outcomes.factories import OutcomeScoreFactory
from .intake import details_data

# Each tracked model: how to make one, and a field a person changes with its new value.
TRACKED = [
    pytest.param(
        lambda org: ReferralFactory(organization=org), "patient_phone", "+13035550199", id="referral"
    ),
    pytest.param(lambda org: PlanOfCareFactory(organization=org), "signed_on", date(2026, 3, 9), id="plan"),
    pytest.param(lambda org: OutcomeScoreFactory(organization=org), "score", 42, id="outcome-score"),
    pytest.param(lambda org: PhysicianFactory(organization=org), "last_name", "Renamed", id="physician"),
    pytest.param(lambda org: PracticeFactory(organization=org), "name", "Renamed Clinic", id="practice"),
    pytest.param(lambda org: GatekeeperFactory(organization=org), "first_name", "Tess", id="gatekeeper"),
    pytest.param(lambda org: TouchFactory(organization=org), "notes", "Left brochures", id="touch"),
    pytest.param(lambda org: MembershipFactory(organization=org), "role", Role.LIAISON, id="membership"),
    pytest.param(
        lambda org: ReferralSettings.objects.create(organization=org),
        "contact_sla_business_days",
        3,
        id="referral-settings",
    ),
    pytest.param(
        lambda org: OutreachSettings.objects.create(organization=org),
        "cadence_tier_a_days",
        21,
        id="outreach-settings",
    ),
    pytest.param(
        lambda org: LetterSettings.objects.create(organization=org), "loop_days", 9, id="letter-settings"
    ),
]


def test_every_listed_model_keeps_a_history():
    for model in (
        Referral,
        PlanOfCare,
        OutcomeScore,
        Physician,
        Practice,
        Gatekeeper,
        Touch,
        Membership,
        ReferralSettings,
        OutreachSettings,
        LetterSettings,
    ):
        assert hasattr(model, "history"), model


@pytest.mark.parametrize(("make", "name", "value"), TRACKED)
def test_a_change_is_recorded_with_who_and_when(summit, summit_admin, make, name, value):
    record = make(summit)
    setattr(record, name, value)
    record._history_user = summit_admin.user
    record.save()

    rows = list(
        type(record).history.filter(**{type(record)._meta.pk.attname: record.pk}).order_by("history_id")
    )
    assert [row.history_type for row in rows] == ["+", "~"]
    assert rows[-1].history_user == summit_admin.user
    assert rows[-1].organization_id == summit.pk
    history = change_history(
        organization=summit, sources=[HistorySource(type(record), {type(record)._meta.pk.attname: record.pk})]
    )
    changed = history.entries[0]
    assert changed.who == summit_admin.user.get_full_name() or summit_admin.user.username
    assert changed.action == "changed"
    assert [change.field for change in changed.changes] == [
        str(type(record)._meta.get_field(name).verbose_name).capitalize()
    ]
    assert history.entries[-1].action == "created"


@pytest.fixture
def referral(summit):
    return ReferralFactory(organization=summit, patient_last_name="Exmaple", patient_phone="303-555-0100")


def test_the_referral_page_shows_a_correction_with_old_and_new_values(desk, referral):
    data = details_data(
        referral, patient_last_name="Example", notes="Prefers mornings", patient_phone="303-555-0199"
    )

    desk.post(reverse("referrals:detail", args=[referral.pk]), data)
    page = desk.get(reverse("referrals:detail", args=[referral.pk])).content.decode()

    assert "Patient last name</span> Exmaple → Example" in page
    assert "Notes</span> — → Prefers mornings" in page
    # Phones as the rest of Rapport shows them, not as stored (E.164).
    old, new = phone_display("+13035550100"), phone_display("+13035550199")
    assert f"Patient phone</span> {old} → {new}" in page
    assert old != "+13035550100"
    who = desk.user.get_full_name() or desk.user.username
    assert f'{who} · <span class="fw-semibold">Patient last name' in page


def test_plans_and_scores_are_in_the_referrals_history(desk, summit, referral):
    plan = PlanOfCareFactory(organization=summit, referral=referral)
    plan.signed_on = date(2026, 3, 9)
    plan.save()
    score = OutcomeScoreFactory(organization=summit, referral=referral, score=30)
    score.score = 35
    score.save()

    page = desk.get(reverse("referrals:detail", args=[referral.pk])).content.decode()

    assert 'Plan of care: <span class="fw-semibold">Signed</span> — → ' in page
    assert 'Outcome score: <span class="fw-semibold">Score</span> 30.00 → 35.00' in page


def test_a_bulk_move_is_in_the_history(summit, summit_admin, referral):
    referral_transition_many(
        organization=summit, user=summit_admin.user, referral_ids=[referral.pk], to_status=Status.CONTACTED
    )

    history = change_history(organization=summit, sources=[HistorySource(Referral, {"id": referral.pk})])

    assert history.entries[0].changes[0].field == "Status"
    assert (history.entries[0].changes[0].old, history.entries[0].changes[0].new) == ("Received", "Contacted")
    assert history.entries[0].who == (summit_admin.user.get_full_name() or summit_admin.user.username)


def test_another_organizations_rows_never_appear(summit, harbor, referral):
    # A row claiming to be the same record, written for another organization.
    referral.organization = harbor
    referral.patient_last_name = "Intruder"
    history_record_bulk([referral], user=None)

    history = change_history(organization=summit, sources=[HistorySource(Referral, {"id": referral.pk})])

    assert [entry.action for entry in history.entries] == ["created"]
    assert not change_history(organization=harbor, sources=[HistorySource(Referral, {"id": 0})]).entries


@pytest.mark.parametrize("edits", [1, 20])
def test_the_history_reads_in_constant_queries(summit, summit_admin, referral, edits):
    for number in range(edits):
        referral.notes = f"Note {number}"
        referral.clinic = referral.clinic  # a related record in every entry's row
        referral.therapist = summit_admin.user if number % 2 == 0 else None
        referral.save()

    with CaptureQueriesContext(connection) as captured:
        history = change_history(organization=summit, sources=[HistorySource(Referral, {"id": referral.pk})])

    assert len(history.entries) == edits + 1
    # The rows with their users, and the users named as therapist.
    assert len(captured) == 2


def test_the_page_lists_at_most_its_limit(summit, referral):
    for number in range(5):
        referral.notes = f"Note {number}"
        referral.save()

    history = change_history(
        organization=summit, sources=[HistorySource(Referral, {"id": referral.pk})], limit=3
    )

    assert len(history.entries) == 3
    assert history.earlier == 3


def test_membership_and_settings_pages_show_their_history(admin_client, summit, member_factory):
    colleague = member_factory(summit, Role.FRONT_DESK)
    admin_client.post(
        reverse("clinics:staff_edit", args=[colleague.pk]),
        {"role": Role.LIAISON, "timezone": ""},
    )
    page = admin_client.get(reverse("clinics:staff_edit", args=[colleague.pk])).content.decode()
    assert "Role</span> Front desk → Liaison" in page

    rules = ReferralSettings.objects.create(organization=summit)
    rules.contact_sla_business_days = 2
    rules.save()
    page = admin_client.get(reverse("clinics:organization_settings")).content.decode()
    assert "Contact new referrals within (business days)</span> 1 → 2" in page
