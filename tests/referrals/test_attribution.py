"""Referrals are attributed at intake to the physician's primary practice and specialty, and the
funnel ("received", "evaluated ever", conversion) is defined once, in referrals/selectors.py.
"""

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from clinics.models import Role
from outreach.flags import sources_needing_attention
from physicians.services import affiliations_set, physician_merge
from referrals import selectors
from referrals.models import SourceType, Status, StatusChange
from referrals.services import ReferralIntake, referral_create, referral_transition

from ..factories import (
    AffiliationFactory,
    ClinicFactory,
    FlagFactory,
    PhysicianFactory,
    PracticeFactory,
    ReferralFactory,
    first_appointment,
)

NOW = datetime.datetime(2026, 3, 11, 16, 0, tzinfo=datetime.UTC)


def intake(organization, user, clinic, physician, **fields):
    return referral_create(
        organization=organization,
        user=user,
        fields=ReferralIntake(
            clinic=clinic,
            source_type=SourceType.PHYSICIAN,
            physician=physician,
            patient_first_name="Pat",
            patient_last_name="Example",
            patient_birth_date=datetime.date(1970, 5, 1),
            patient_phone="303-555-0100",
            received_at=fields.pop("received_at", timezone.now()),
            **fields,
        ),
    )


@pytest.fixture
def setting(summit, summit_front_desk):
    """A physician at their first practice, and what intake needs."""
    clinic = ClinicFactory(organization=summit)
    first = AffiliationFactory(organization=summit, physician__taxonomy_code="207X00000X")
    return {
        "clinic": clinic,
        "user": summit_front_desk.user,
        "physician": first.physician,
        "first_practice": first.practice,
    }


def test_intake_records_the_physicians_primary_practice_and_specialty(summit, setting):
    referral = intake(summit, setting["user"], setting["clinic"], setting["physician"])

    assert referral.referring_practice == setting["first_practice"]
    assert referral.referring_taxonomy_code == "207X00000X"


def test_a_physician_who_moves_practice_leaves_their_referrals_counted_where_they_were_sent(summit, setting):
    physician, first_practice = setting["physician"], setting["first_practice"]
    referral = intake(summit, setting["user"], setting["clinic"], physician)
    new_practice = PracticeFactory(organization=summit)

    affiliations_set(physician=physician, practices=[new_practice], primary=new_practice)
    physician.taxonomy_code = "207QS0010X"
    physician.save()
    later = intake(summit, setting["user"], setting["clinic"], physician)

    referral.refresh_from_db()
    assert (referral.referring_practice, referral.referring_taxonomy_code) == (first_practice, "207X00000X")
    assert (later.referring_practice, later.referring_taxonomy_code) == (new_practice, "207QS0010X")
    assert selectors.practice_referral_stats(organization=summit, practice_id=first_practice.pk).received == 1
    assert selectors.practice_referral_stats(organization=summit, practice_id=new_practice.pk).received == 1


def test_a_merge_moves_the_referral_to_the_physician_kept_but_not_its_practice(summit, setting):
    duplicate, first_practice = setting["physician"], setting["first_practice"]
    referral = intake(summit, setting["user"], setting["clinic"], duplicate)
    keep = AffiliationFactory(organization=summit).physician

    physician_merge(organization=summit, keep=keep, duplicate=duplicate)

    referral.refresh_from_db()
    assert referral.physician == keep
    assert referral.referring_practice == first_practice


def test_a_referral_not_from_a_physician_is_attributed_to_no_practice(summit, setting):
    referral = referral_create(
        organization=summit,
        user=setting["user"],
        fields=ReferralIntake(
            clinic=setting["clinic"],
            source_type=SourceType.DIRECT_ACCESS,
            patient_first_name="Pat",
            patient_last_name="Example",
            patient_birth_date=datetime.date(1970, 5, 1),
            patient_phone="303-555-0100",
            received_at=timezone.now(),
        ),
    )

    assert (referral.referring_practice, referral.referring_taxonomy_code) == (None, "")


def test_the_practice_page_counts_referrals_by_their_attribution(
    client, login, summit, setting, member_factory
):
    intake(summit, setting["user"], setting["clinic"], setting["physician"])
    new_practice = PracticeFactory(organization=summit)
    affiliations_set(physician=setting["physician"], practices=[new_practice], primary=new_practice)
    login(member_factory(summit, Role.LIAISON))

    def referral_stats(practice):
        response = client.get(reverse("physicians:practice_detail", args=[practice.pk]))
        [panel] = [panel for panel in response.context["panels"] if "stats" in panel.context]
        return panel.context["stats"]

    assert referral_stats(setting["first_practice"]).received == 1
    assert referral_stats(new_practice).received == 0


@time_machine.travel(NOW, tick=False)
def test_flags_and_panels_count_the_same_referrals(summit, harbor, setting):
    """One funnel: the attention list, the physician's and the practice's pages agree on one fixture."""
    physician, user, clinic = setting["physician"], setting["user"], setting["clinic"]
    days_ago = [3, 10, 20, 40]
    referrals = [
        intake(summit, user, clinic, physician, received_at=NOW - datetime.timedelta(days=days))
        for days in days_ago
    ]
    # Lost before evaluation; evaluated, then lost; discharged; still waiting.
    referral_transition(referral=referrals[0], user=user, to_status=Status.LOST, loss_reason="unreachable")
    for step in (Status.SCHEDULED, Status.EVALUATED, Status.LOST):
        referrals[1] = referral_transition(
            referral=referrals[1],
            user=user,
            to_status=step,
            loss_reason="declined" if step == Status.LOST else "",
            appointment=first_appointment(referrals[1]) if step == Status.SCHEDULED else None,
        )
    for step in (Status.SCHEDULED, Status.EVALUATED, Status.DISCHARGED):
        referrals[2] = referral_transition(
            referral=referrals[2],
            user=user,
            to_status=step,
            appointment=first_appointment(referrals[2]) if step == Status.SCHEDULED else None,
        )
    ReferralFactory(organization=summit)  # another physician's
    ReferralFactory(organization=harbor, physician=PhysicianFactory(organization=harbor))
    FlagFactory(organization=summit, physician=physician)

    [source] = sources_needing_attention(organization=summit, now=NOW)
    by_physician = selectors.physician_referral_stats(organization=summit, physician_id=physician.pk)
    by_practice = selectors.practice_referral_stats(
        organization=summit, practice_id=setting["first_practice"].pk
    )

    assert source.referrals_last_year == by_physician.received == by_practice.received == 4
    assert by_physician == by_practice
    assert by_physician.evaluated == 2  # the discharged one, and the one lost after its evaluation
    assert by_physician.conversion == 0.5
    evaluated_in_history = set(
        StatusChange.objects.filter(to_status=Status.EVALUATED).values_list("referral_id", flat=True)
    )
    assert evaluated_in_history == {referrals[1].pk, referrals[2].pk}


BEFORE_ATTRIBUTION = [("referrals", "0007_remove_referral_document_field")]
AFTER_ATTRIBUTION = [("referrals", "0008_referral_attribution_at_intake")]


def test_existing_referrals_are_attributed_to_their_physicians_current_practice(scratch_database):
    apps = scratch_database.migrate_to(BEFORE_ATTRIBUTION)
    summit = apps.get_model("clinics", "Organization").objects.create(name="Summit", slug="summit")
    physician = apps.get_model("physicians", "Physician").objects.create(
        organization_id=summit.pk, first_name="Ada", last_name="Moss", taxonomy_code="207X00000X"
    )
    practice = apps.get_model("physicians", "Practice").objects.create(
        organization_id=summit.pk, name="Front Range Orthopedics"
    )
    apps.get_model("physicians", "Affiliation").objects.create(
        organization_id=summit.pk, physician_id=physician.pk, practice_id=practice.pk, is_primary=True
    )
    clinic = apps.get_model("clinics", "Clinic").objects.create(organization_id=summit.pk, name="Downtown")
    OldReferral = apps.get_model("referrals", "Referral")
    common = {
        "organization_id": summit.pk,
        "clinic_id": clinic.pk,
        "patient_first_name": "Pat",
        "patient_last_name": "Example",
        "patient_birth_date": "1970-05-01",
        "patient_phone": "303-555-0100",
        "received_at": "2026-03-02T16:30:00Z",
    }
    from_physician = OldReferral.objects.create(physician_id=physician.pk, **common).pk
    direct = OldReferral.objects.create(source_type="direct_access", **common).pk

    apps = scratch_database.migrate_to(AFTER_ATTRIBUTION)

    attributed = {
        row["pk"]: row
        for row in apps.get_model("referrals", "Referral").objects.values(
            "pk", "referring_practice_id", "referring_taxonomy_code"
        )
    }
    assert attributed[from_physician]["referring_practice_id"] == practice.pk
    assert attributed[from_physician]["referring_taxonomy_code"] == "207X00000X"
    assert attributed[direct]["referring_practice_id"] is None
    assert attributed[direct]["referring_taxonomy_code"] == ""
