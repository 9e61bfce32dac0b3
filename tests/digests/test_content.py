"""What each role's digest says, from fixtures: the items that are theirs, and nothing of an empty section."""

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from clinics.models import Role
from digests.content import digests_build, patient_label
from digests.models import Section
from digests.services import digests_send_due
from letters.models import LetterStatus
from outbox.models import OutboundEmail
from outcomes.models import Phase
from outreach.models import Flag, FlagKind, FlagSeverity
from referrals.models import Status, StatusChange

from ..factories import (
    AffiliationFactory,
    ClinicFactory,
    FollowUpFactory,
    GatekeeperFactory,
    MembershipFactory,
    PhysicianFactory,
    PlanOfCareFactory,
    ReferralFactory,
    TouchFactory,
)
from ..letters.factories import LetterFactory
from ..outcomes.factories import NpsResponseFactory, OutcomeScoreFactory

DENVER = ZoneInfo("America/Denver")
NOW = datetime.datetime(2026, 12, 2, 12, tzinfo=DENVER)  # a Wednesday; last week is Nov 23 to 29
LAST_WEEK = datetime.datetime(2026, 11, 25, 10, tzinfo=DENVER)


@pytest.fixture
def week(summit):
    """A therapist, a liaison and an admin of Summit, each with something of last week and this one."""
    summit.timezone = "America/Denver"
    summit.save()
    clinic = ClinicFactory(organization=summit, name="Summit PT – Downtown")
    therapist = MembershipFactory(organization=summit, role=Role.THERAPIST, home_clinic=clinic)
    liaison = MembershipFactory(organization=summit, role=Role.LIAISON)
    admin = MembershipFactory(organization=summit, role=Role.ADMIN)
    quiet = MembershipFactory(organization=summit, role=Role.LIAISON)
    practice_link = AffiliationFactory(organization=summit, practice__name="Front Range Orthopedics")
    physician = practice_link.physician
    GatekeeperFactory(
        organization=summit, practice=practice_link.practice, first_name="Rosa", last_name="Ortega"
    )
    mine = {"organization": summit, "clinic": clinic, "therapist": therapist.user, "physician": physician}

    ReferralFactory(**mine, patient_first_name="Maria", patient_last_name="Lopez", received_at=LAST_WEEK)
    ReferralFactory(
        **mine,
        patient_first_name="Omar",
        patient_last_name="Haddad",
        received_at=NOW - datetime.timedelta(days=20),
        status=Status.SCHEDULED,
        first_appointment_at=NOW + datetime.timedelta(days=1),
        first_appointment_clinic=clinic,
    )
    evaluated = ReferralFactory(
        **mine,
        patient_first_name="Ines",
        patient_last_name="Kowalski",
        received_at=NOW - datetime.timedelta(days=40),
        status=Status.EVALUATED,
    )
    StatusChange.objects.create(
        organization=summit,
        referral=evaluated,
        from_status=Status.SCHEDULED,
        to_status=Status.EVALUATED,
        changed_at=NOW - datetime.timedelta(days=20),
    )
    PlanOfCareFactory(organization=summit, referral=evaluated, starts_on=datetime.date(2026, 11, 1))
    LetterFactory(
        organization=summit, referral=evaluated, status=LetterStatus.REVIEW, therapist=therapist.user
    )
    discharged = ReferralFactory(
        **mine,
        patient_first_name="Lena",
        patient_last_name="Brandt",
        received_at=NOW - datetime.timedelta(days=80),
        status=Status.DISCHARGED,
    )
    StatusChange.objects.create(
        organization=summit,
        referral=discharged,
        from_status=Status.IN_CARE,
        to_status=Status.DISCHARGED,
        changed_at=LAST_WEEK,
    )
    OutcomeScoreFactory(organization=summit, referral=discharged, phase=Phase.INTAKE, score=Decimal(40))
    OutcomeScoreFactory(
        organization=summit,
        referral=discharged,
        phase=Phase.DISCHARGE,
        score=Decimal(62),
        taken_on=datetime.date(2026, 11, 25),
    )

    slipping = PhysicianFactory(
        organization=summit, first_name="Grace", last_name="Brennan", owner=liaison.user
    )
    Flag.objects.create(
        organization=summit,
        physician=slipping,
        kind=FlagKind.CONTACT_LAPSED,
        severity=FlagSeverity.LAPSED,
        evidence={"since": "2026-09-01", "cadence_days": 30, "ever": True},
        opened_at=NOW - datetime.timedelta(days=3),
    )
    FollowUpFactory(
        organization=summit, owner=liaison.user, due_on=datetime.date(2026, 12, 4), touch__physician=slipping
    )
    TouchFactory(organization=summit, physician=slipping, made_by=liaison.user, occurred_at=LAST_WEEK)
    NpsResponseFactory(
        organization=summit,
        referral=discharged,
        score=3,
        comment="The wait for a first visit was too long.",
        answered_on=datetime.date(2026, 11, 26),
    )
    return {"therapist": therapist, "liaison": liaison, "admin": admin, "quiet": quiet}


def sections(digest):
    return {section.key: section for section in digest.sections}


def lines(section):
    return [line for group in section.groups for line in group.lines]


def test_a_therapists_digest_holds_their_referrals_plans_letters_loops_discharges_and_sources(summit, week):
    (digest,) = digests_build(
        organization=summit, recipients=[(week["therapist"], set(), "2026-W49")], now=NOW
    )
    shown = sections(digest)

    assert list(shown) == [
        Section.REFERRALS,
        Section.PLANS,
        Section.LETTERS,
        Section.LOOP,
        Section.DISCHARGES,
        Section.THANKS,
    ]
    assert [line.text for line in lines(shown[Section.REFERRALS])] == ["Maria L.", "Omar H."]
    plans = shown[Section.PLANS]
    assert plans.groups[0].title == "Front Range Orthopedics"
    assert plans.groups[0].note.startswith("Call Rosa Ortega")
    assert "Overdue" in plans.groups[0].lines[0].detail
    assert [line.text for line in lines(shown[Section.LETTERS])] == ["Evaluation and plan: Ines K."]
    assert [line.text for line in lines(shown[Section.LOOP])] == ["Ines K.", "Lena B."]
    (discharge,) = lines(shown[Section.DISCHARGES])
    assert discharge.text == "Lena B."
    assert "LEFS 40 → 62 (reached the MCID)" in discharge.detail
    assert "1 patient sent to you last week" in lines(shown[Section.THANKS])[0].detail
    assert all(line.url.startswith("http") for section in digest.sections for line in lines(section))


def test_a_liaisons_digest_holds_their_slipping_sources_follow_ups_and_touches(summit, week):
    (digest,) = digests_build(organization=summit, recipients=[(week["liaison"], set(), "2026-W49")], now=NOW)
    shown = sections(digest)

    assert [line.text for line in lines(shown[Section.ATTENTION])] == ["Grace Brennan, MD"]
    assert "Last contact" in lines(shown[Section.ATTENTION])[0].detail
    assert [line.text for line in lines(shown[Section.FOLLOWUPS])] == ["Grace Brennan, MD"]
    assert shown[Section.TOUCHES].figures[0].value == "1"


def test_an_admins_digest_holds_the_organizations_week_comments_and_sources_at_stake(summit, week):
    (digest,) = digests_build(organization=summit, recipients=[(week["admin"], set(), "2026-W49")], now=NOW)
    shown = sections(digest)

    assert shown[Section.NPS].figures[0].value == "-100"
    assert lines(shown[Section.NPS])[0].text == "“The wait for a first visit was too long.”"
    assert [line.text for line in lines(shown[Section.AT_STAKE])] == ["Grace Brennan, MD"]
    assert Section.PLANS not in shown


def test_a_quiet_week_leaves_every_section_out_and_says_so_in_one_line(summit, week):
    digests_send_due(now=NOW - datetime.timedelta(days=7))
    (digest,) = digests_build(organization=summit, recipients=[(week["quiet"], set(), "2026-W49")], now=NOW)

    assert digest.sections == []
    digests_send_due(now=datetime.datetime(2026, 11, 30, 7, tzinfo=DENVER))
    email = OutboundEmail.objects.get(to_address=week["quiet"].user.email)
    assert "Nothing needs you this week" in email.body_text
    assert "==" not in email.body_text
    assert "a quiet week" in email.subject


def test_patients_are_first_name_and_initial_in_the_body_and_absent_from_the_subject(summit, week):
    digests_send_due(now=NOW - datetime.timedelta(days=7))
    digests_send_due(now=datetime.datetime(2026, 11, 30, 7, tzinfo=DENVER))

    email = OutboundEmail.objects.get(to_address=week["therapist"].user.email)
    for text in (email.body_text, email.body_html):
        assert "Maria L." in text
        for last_name in ("Lopez", "Haddad", "Kowalski", "Brandt"):
            assert last_name not in text
    for first_name in ("Maria", "Omar", "Ines", "Lena"):
        assert first_name not in email.subject
    assert "<script" not in email.body_html
    assert "/digests/" in email.body_html
    assert "preferences" in email.body_html


@pytest.mark.parametrize(
    ("first", "last", "shown"),
    [("Maria", "Lopez", "Maria L."), (" Ana ", "", "Ana"), ("Jo", "de la Cruz", "Jo d.")],
)
def test_patient_label(first, last, shown):
    assert patient_label(first, last) == shown
