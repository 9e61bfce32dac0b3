"""The home page says what needs each role now, counts it right, and each count's link shows those rows.

The clock is pinned to Wednesday 2 December 2026, 10:00 in Denver (the
organization's and its clinic's zone). Every figure below is worked out from
the rows `workday` writes; Harbor gets the same rows and must never show up
in Summit's counts.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from clinics.models import Population, Role
from letters.models import LetterStatus
from letters.selectors import letter_settings_get
from outreach.models import FlagSeverity
from outreach.selectors import outreach_settings_get
from physicians.models import Stage
from referrals.models import Status, StatusChange
from referrals.selectors import referral_settings_get

from .factories import (
    AffiliationFactory,
    ClinicFactory,
    FlagFactory,
    FollowUpFactory,
    PayerFactory,
    PhysicianFactory,
    PlanOfCareFactory,
    PracticeFactory,
    ReferralFactory,
    ServiceOfferingFactory,
    TouchFactory,
)
from .home_pages import assert_links_show_what_they_count, home_counts, rows_behind, values
from .letters.factories import LetterFactory
from .outbox.factories import OutboundEmailFactory

DENVER = ZoneInfo("America/Denver")
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=DENVER)
TODAY = date(2026, 12, 2)


def denver(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=DENVER)


class Workday:
    """An organization's people and the work `workday` gives them."""

    def __init__(self, organization, member_factory):
        self.organization = organization
        self.clinic = ClinicFactory(organization=organization, timezone="America/Denver")
        self.therapist = member_factory(organization, Role.THERAPIST, home_clinic=self.clinic)
        self.other_therapist = member_factory(organization, Role.THERAPIST)
        self.liaison = member_factory(organization, Role.LIAISON, home_clinic=self.clinic)
        self.front_desk = member_factory(organization, Role.FRONT_DESK, home_clinic=self.clinic)
        self.admin = member_factory(organization, Role.ADMIN, home_clinic=self.clinic)
        self.boston = ClinicFactory(organization=organization, timezone="America/New_York")
        # Read once here, so the first page does not create them inside a measured request.
        referral_settings_get(organization=organization)
        outreach_settings_get(organization=organization)
        letter_settings_get(organization=organization)
        # Asks for a letter after each evaluation (the default), by fax.
        self.referring = PhysicianFactory(organization=organization)
        # The clinic takes one payer and runs a sports program: a practice with both fits it
        # fully (100), one with the payer alone by 60, below a strong fit.
        payer = PayerFactory(organization=organization)
        self.clinic.payers.set([payer])
        sports = Population.objects.get(code="sports")
        ServiceOfferingFactory(organization=organization, clinic=self.clinic).populations.set([sports])
        self.fitting_practice = PracticeFactory(organization=organization)
        self.payer_only_practice = PracticeFactory(organization=organization)
        for practice in (self.fitting_practice, self.payer_only_practice):
            practice.payers.set([payer])
        self.fitting_practice.populations.set([sports])

    def referral(self, status, received_at, therapist=None, **fields):
        return ReferralFactory(
            organization=self.organization,
            clinic=fields.pop("clinic", self.clinic),
            status=status,
            received_at=received_at,
            therapist=therapist.user if therapist else None,
            loss_reason="declined" if status == Status.LOST else "",
            **fields,
        )

    def appointment(self, starts_at, clinic=None) -> dict:
        return {"first_appointment_at": starts_at, "first_appointment_clinic": clinic or self.clinic}

    def plan(self, referral, *, days_ago, sent_days_ago=None, signed=False):
        return PlanOfCareFactory(
            organization=self.organization,
            referral=referral,
            starts_on=TODAY - timedelta(days=days_ago),
            sent_on=TODAY - timedelta(days=sent_days_ago) if sent_days_ago is not None else None,
            signed_on=TODAY if signed else None,
        )

    def follow_up(self, owner, *, due_in, done=False):
        touch = TouchFactory(organization=self.organization, made_by=owner.user)
        return FollowUpFactory(
            organization=self.organization,
            touch=touch,
            owner=owner.user,
            due_on=TODAY + timedelta(days=due_in),
            completed_at=NOW if done else None,
        )

    def prospect(self, last_name, practice, stage=Stage.PROSPECT):
        physician = PhysicianFactory(organization=self.organization, last_name=last_name, stage=stage)
        AffiliationFactory(organization=self.organization, physician=physician, practice=practice)
        return physician

    def letter(self, status, *, therapist=None, days_ago=0, email_status=None):
        """A letter about a referral of the therapist's, written `days_ago`; an email of `email_status`."""
        referral = self.referral(Status.EVALUATED, NOW - timedelta(days=40), therapist=therapist)
        letter = LetterFactory(
            organization=self.organization,
            referral=referral,
            status=status,
            created_at=NOW - timedelta(days=days_ago),
        )
        if email_status:
            letter.email = OutboundEmailFactory(organization=self.organization, status=email_status)
            letter.save()
        return letter

    def unheard(self, *, days_ago, heard=False):
        """A referral evaluated `days_ago` whose physician has heard nothing (or has, with `heard`)."""
        referral = self.referral(
            Status.EVALUATED, NOW - timedelta(days=days_ago + 5), physician=self.referring
        )
        StatusChange.objects.create(
            organization=self.organization,
            referral=referral,
            from_status=Status.SCHEDULED,
            to_status=Status.EVALUATED,
            changed_at=NOW - timedelta(days=days_ago),
        )
        if heard:
            LetterFactory(organization=self.organization, referral=referral, status=LetterStatus.SENT)
        return referral

    def flagged(self, owner, *, severity=FlagSeverity.OVERDUE, active=True, closed=False):
        physician = PhysicianFactory(
            organization=self.organization, owner=owner.user if owner else None, is_active=active
        )
        FlagFactory(
            organization=self.organization,
            physician=physician,
            severity=severity,
            evidence={"cadence_days": 30, "since": "2026-10-01", "ever": True},
            closed_at=NOW if closed else None,
        )
        return physician


def workday(organization, member_factory) -> Workday:
    """The rows behind every figure the tests below expect."""
    day = Workday(organization, member_factory)
    # To contact: two past their one-business-day deadline, two within it.
    day.referral(Status.RECEIVED, denver(11, 30, 9))  # due Tue 09:00: late
    day.referral(Status.RECEIVED, denver(12, 1, 8))  # due Wed 08:00: late
    day.referral(Status.RECEIVED, denver(12, 1, 23, 30))  # due Wed 23:30; today in UTC, not in Denver
    day.referral(Status.RECEIVED, denver(12, 2, 9))  # today
    # To schedule.
    day.referral(Status.CONTACTED, denver(12, 2, 0, 30))  # today
    day.referral(Status.CONTACTED, denver(11, 20, 9))
    # Scheduled for the evaluation: two with the therapist, one of them seen yesterday by the
    # appointment and not recorded since; one with a colleague, missed on Monday; one at a
    # Boston clinic at 23:30 last night in Denver, which is today, 01:30, on that clinic's clock.
    day.referral(
        Status.SCHEDULED, denver(11, 18, 9), therapist=day.therapist, **day.appointment(denver(12, 1, 14))
    )
    day.referral(
        Status.SCHEDULED, denver(11, 19, 9), therapist=day.therapist, **day.appointment(denver(12, 2, 8))
    )
    day.referral(
        Status.SCHEDULED,
        denver(11, 19, 10),
        therapist=day.other_therapist,
        **day.appointment(denver(11, 30, 9)),
    )
    day.referral(Status.SCHEDULED, denver(11, 20, 9), **day.appointment(denver(12, 1, 23, 30), day.boston))
    # Plans of care: one overdue (the therapist's), one not sent, one awaiting signature (the
    # therapist's); a signed one and one of a discharged referral do not wait for anything.
    evaluated = day.referral(Status.EVALUATED, denver(10, 20, 9), therapist=day.therapist)
    day.plan(evaluated, days_ago=31, sent_days_ago=30)
    in_care = day.referral(Status.IN_CARE, denver(11, 2, 9), therapist=day.other_therapist)
    day.plan(in_care, days_ago=5)
    awaiting = day.referral(Status.EVALUATED, denver(10, 25, 9), therapist=day.therapist)
    day.plan(awaiting, days_ago=10, sent_days_ago=8)
    day.plan(awaiting, days_ago=100, sent_days_ago=99, signed=True)
    discharged = day.referral(Status.DISCHARGED, denver(9, 1, 9), therapist=day.therapist)
    day.plan(discharged, days_ago=40)
    # Lost this morning: still part of the day's intake.
    day.referral(Status.LOST, denver(12, 2, 8))
    # Sources: one of the liaison's listed, one only due soon (not listed), a colleague's
    # listed; an inactive physician and a closed flag are not.
    day.flagged(day.liaison)
    day.flagged(day.liaison, severity=FlagSeverity.DUE_SOON)
    day.flagged(day.admin, severity=FlagSeverity.LAPSED)
    day.flagged(day.liaison, active=False)
    day.flagged(day.liaison, closed=True)
    # Follow-ups: the liaison's two overdue, one today, one next week, one overdue but done;
    # the therapist's one overdue and one today.
    day.follow_up(day.liaison, due_in=-1)
    day.follow_up(day.liaison, due_in=-7)
    day.follow_up(day.liaison, due_in=0)
    day.follow_up(day.liaison, due_in=7)
    day.follow_up(day.liaison, due_in=-3, done=True)
    day.follow_up(day.therapist, due_in=-2)
    day.follow_up(day.therapist, due_in=0)
    # Letters: two of the therapist's waiting for review (one for three days), a colleague's;
    # one to print and one whose email failed; one patient evaluated ten days ago whose
    # physician has heard nothing, one whose physician has, one evaluated two days ago.
    day.letter(LetterStatus.REVIEW, therapist=day.therapist, days_ago=3)
    day.letter(LetterStatus.REVIEW, therapist=day.therapist)
    day.letter(LetterStatus.REVIEW, therapist=day.other_therapist)
    day.letter(LetterStatus.TO_SEND)
    day.letter(LetterStatus.EMAILED, email_status="failed")
    day.letter(LetterStatus.EMAILED, email_status="sent")
    day.unheard(days_ago=10)
    day.unheard(days_ago=10, heard=True)
    day.unheard(days_ago=2)
    # Prospects: two fit the clinic strongly, one by its payer alone; one fitting physician
    # already refers, so is no prospect.
    day.prospect("Mbeki", day.fitting_practice)
    day.prospect("Fischer", day.fitting_practice, Stage.FIRST_IMPRESSION)
    day.prospect("Nakamura", day.payer_only_practice)
    day.prospect("OConnell", day.fitting_practice, Stage.MAINTAINING)
    return day


@pytest.fixture
def summit_day(summit, member_factory):
    with time_machine.travel(NOW, tick=False):
        yield workday(summit, member_factory)


@pytest.fixture
def harbor_day(harbor, member_factory):
    """The same work in another organization: none of it may count for Summit."""
    with time_machine.travel(NOW, tick=False):
        yield workday(harbor, member_factory)


MISSED = "past their appointment day, evaluation not recorded"
PATIENTS_TO_REACH = {"late for the first call": 2, "to contact in all": 4, "to schedule": 2}
PLANS = {"overdue for signature": 1, "not sent to the physician yet": 1, "unsigned in all": 3}
ATTENTION = {"of your sources": 1, "sources in all": 2}
UNHEARD = {"patients whose physician has not heard back": 1}
EXPECTED = {
    Role.FRONT_DESK: {
        "Patients to reach": PATIENTS_TO_REACH,
        "Plans of care": PLANS,
        "Letters to physicians": {"to print and send": 2},
    },
    Role.THERAPIST: {
        "My evaluations coming up": {"scheduled with you for their evaluation": 2, MISSED: 1},
        "My plans of care": {
            "overdue for signature": 1,
            "not sent to the physician yet": 0,
            "unsigned in all": 2,
        },
        "Letters to physicians": {"waiting for review over 2 days": 1, "waiting for review": 2},
        "Follow-ups": {"overdue": 1, "due today": 1},
    },
    Role.LIAISON: {
        "Letters to physicians": UNHEARD,
        "Sources needing attention": ATTENTION,
        "Follow-ups": {"overdue": 2, "due today": 1},
        "Prospects with the best fit": {"fit {clinic} strongly (70+)": 2},
    },
    Role.ADMIN: {
        "Patients to reach": PATIENTS_TO_REACH,
        "Evaluations coming up": {"scheduled for their evaluation": 4, MISSED: 2},
        "Plans of care": PLANS,
        "Today's intake": {"received today": 3},
        "Letters to physicians": {
            "waiting for review over 2 days": 1,
            "waiting for review": 3,
            "to print and send": 2,
            **UNHEARD,
        },
        "Sources needing attention": {"of your sources": 1, "sources in all": 2},
        "Follow-ups": {
            "overdue": 0,
            "due today": 0,
            "overdue across the team": 3,
            "due today across the team": 2,
        },
        "Prospects with the best fit": {"fit {clinic} strongly (70+)": 2},
        "Clinics and staff": {},
    },
}
PEOPLE = {
    Role.FRONT_DESK: "front_desk",
    Role.THERAPIST: "therapist",
    Role.LIAISON: "liaison",
    Role.ADMIN: "admin",
}


def expected_for(role, day):
    return {
        title: {label.format(clinic=day.clinic.name): value for label, value in counts.items()}
        for title, counts in EXPECTED[role].items()
    }


@pytest.mark.parametrize("role", list(PEOPLE))
def test_each_role_sees_its_work_counted_in_order(client, summit_day, harbor_day, role):
    client.force_login(getattr(summit_day, PEOPLE[role]).user)

    with time_machine.travel(NOW, tick=False):
        cards = values(home_counts(client))

    # Dicts compare without order: the titles' order is checked on its own.
    assert cards == expected_for(role, summit_day)
    assert list(cards) == list(EXPECTED[role])


@pytest.mark.parametrize("role", list(PEOPLE))
def test_each_count_links_to_a_page_that_shows_those_rows(client, summit_day, harbor_day, role):
    client.force_login(getattr(summit_day, PEOPLE[role]).user)

    with time_machine.travel(NOW, tick=False):
        checked = assert_links_show_what_they_count(client)

    assert checked == sum(len(counts) for counts in EXPECTED[role].values())


def test_another_organizations_person_sees_only_their_own(client, summit_day, harbor_day):
    ReferralFactory(organization=summit_day.organization, clinic=summit_day.clinic, received_at=NOW)
    client.force_login(harbor_day.admin.user)

    with time_machine.travel(NOW, tick=False):
        cards = values(home_counts(client))

    assert cards == expected_for(Role.ADMIN, harbor_day)


def test_a_late_referral_is_late_by_its_own_clinics_calendar(client, summit, member_factory):
    """Received Friday 23:30 in Denver, Saturday 01:30 in New York: by Monday 22:30 only New York's is late.

    Denver's clock started Friday night and runs to Monday 23:30; New York's
    started Monday at midnight there and ran out at 22:00 Denver time.
    """
    with time_machine.travel(NOW, tick=False):
        day = Workday(summit, member_factory)
    new_york = ClinicFactory(organization=summit, timezone="America/New_York")
    friday_night = denver(11, 27, 23, 30)
    day.referral(Status.RECEIVED, friday_night)
    late = day.referral(Status.RECEIVED, friday_night, clinic=new_york)
    client.force_login(day.front_desk.user)

    with time_machine.travel(denver(11, 30, 22, 30), tick=False):
        counts = home_counts(client)["Patients to reach"]
        late_url = counts["late for the first call"].url
        queue = client.get(late_url).context["queues"][0][2]

    assert counts["late for the first call"].value == 1
    assert [row.referral for row in queue] == [late]


def test_the_days_intake_is_the_organizations_day(client, summit, member_factory):
    """At 23:30 in Denver it is tomorrow in New York, the admin's zone; the organization's day decides."""
    with time_machine.travel(NOW, tick=False):
        day = Workday(summit, member_factory)
    day.admin.timezone = "America/New_York"
    day.admin.save()
    day.referral(Status.RECEIVED, denver(12, 1, 23, 50))
    day.referral(Status.RECEIVED, denver(12, 2, 0, 5))
    day.referral(Status.RECEIVED, denver(12, 2, 23, 10))  # 01:10 tomorrow for the admin
    client.force_login(day.admin.user)

    with time_machine.travel(denver(12, 2, 23, 30), tick=False):
        intake = home_counts(client)["Today's intake"]["received today"]
        shown = rows_behind(client, intake.url)

    assert (intake.value, shown) == (2, 2)
    assert intake.url.endswith("received_on=2026-12-02")


def test_empty_cards_say_what_that_means(client, summit, member_factory):
    with time_machine.travel(NOW, tick=False):
        day = Workday(summit, member_factory)
    client.force_login(day.front_desk.user)

    with time_machine.travel(NOW, tick=False):
        page = client.get(reverse("home")).content.decode()

    assert "Nothing waiting — every referral has been called and scheduled." in page
    assert "Nothing waiting — every plan of care of an open referral is signed." in page
    assert "home-count-value" not in page


def test_admins_keep_the_clinics_and_staff_in_reach(client, summit_day):
    client.force_login(summit_day.admin.user)

    with time_machine.travel(NOW, tick=False):
        response = client.get(reverse("home"))

    [overview] = [
        shown.content for shown in response.context["cards"] if shown.card.key == "clinics.organization"
    ]
    assert overview.note == "2 clinics open · 5 people on staff"
    assert [link.url for link in overview.links][:2] == [
        reverse("clinics:list"),
        reverse("clinics:staff_list"),
    ]


def more_work(day: Workday, n: int) -> None:
    """`n` more of everything the home page counts, across every card."""
    for i in range(n):
        received = denver(11, 2, 9) + timedelta(minutes=i)
        day.referral(Status.RECEIVED, received)
        day.referral(Status.CONTACTED, denver(12, 2, 0) + timedelta(minutes=i))  # today
        day.referral(Status.SCHEDULED, received, therapist=day.therapist)
        evaluated = day.referral(Status.EVALUATED, received, therapist=day.therapist)
        day.plan(evaluated, days_ago=i % 40)
        day.flagged(day.liaison if i % 2 else day.admin)
        day.follow_up([day.liaison, day.admin, day.therapist][i % 3], due_in=i % 4 - 1)
        day.prospect(f"Prospect{i}", day.fitting_practice if i % 2 else day.payer_only_practice)
        day.letter(LetterStatus.REVIEW, therapist=day.therapist, days_ago=i % 4)
        day.letter(LetterStatus.TO_SEND)
        day.unheard(days_ago=8 + i % 30)


# The queries of a home page: 3 for any page (the session, the user, their memberships), then
# the cards': the referral rules, the clinics' zones and the pipeline's counts, which the
# referral cards share (3); plans of care (1); sources needing attention (1); follow-ups (1);
# prospects, the clinic's payers and programs, then the count with the best three (3); the
# organization's overview (1); letters to review (1), to send (1), and patients whose physician
# has not heard back, with the letter rules (2).
QUERIES = {
    Role.FRONT_DESK: 3 + 3 + 1 + 1,
    Role.THERAPIST: 3 + 3 + 1 + 1 + 1,
    Role.LIAISON: 3 + 1 + 1 + 3 + 2,
    Role.ADMIN: 3 + 3 + 1 + 1 + 1 + 3 + 1 + 4,
}


@pytest.mark.parametrize("role", list(PEOPLE))
def test_the_page_costs_the_same_for_one_item_as_for_thirty(
    client, summit, member_factory, role, django_assert_num_queries
):
    with time_machine.travel(NOW, tick=False):
        day = Workday(summit, member_factory)
        client.force_login(getattr(day, PEOPLE[role]).user)
        more_work(day, 1)
        with django_assert_num_queries(QUERIES[role]):
            client.get(reverse("home"))

        # Thirty of each outnumber every list a card shows: a query per item would show.
        more_work(day, 29)
        with django_assert_num_queries(QUERIES[role]):
            response = client.get(reverse("home"))

    assert [shown.card.title for shown in response.context["cards"] if shown.content.is_empty] == []


def test_the_queues_show_one_queue_when_named_and_late_ones_only_for_contact(client, summit_day):
    client.force_login(summit_day.front_desk.user)
    queues = reverse("referrals:queues")

    with time_machine.travel(NOW, tick=False):
        every = client.get(queues).context["queues"]
        awaiting = client.get(f"{queues}?queue=awaiting_evaluation").content.decode()
        unknown = client.get(f"{queues}?queue=everything&late=1").context["queues"]
        late_scheduling = client.get(f"{queues}?queue=needs_scheduling&late=1").context["queues"]

    assert [name for name, _, _, _ in every] == ["needs_contact", "needs_scheduling", "awaiting_evaluation"]
    assert [(len(rows), count) for _, _, rows, count in every] == [(4, 4), (2, 2), (4, 4)]
    assert [len(rows) for _, _, rows, _ in unknown] == [4, 2, 4]
    # Oldest first: missed yesterday, today at 8:00, missed on Monday, today on Boston's clock.
    assert [row.appointment_passed for row in every[2][2]] == [True, False, True, False]
    assert awaiting.count("Appointment day over") == 2
    assert [(name, len(rows)) for name, _, rows, _ in late_scheduling] == [("needs_scheduling", 2)]


def test_only_admins_see_everyones_follow_ups(client, summit_day):
    everyone = f"{reverse('outreach:followups')}?everyone=1"

    with time_machine.travel(NOW, tick=False):
        client.force_login(summit_day.liaison.user)
        liaison = client.get(everyone).context
        client.force_login(summit_day.admin.user)
        admin = client.get(everyone)

    assert (liaison["everyone"], len(liaison["groups"].overdue)) == (False, 2)
    assert len(admin.context["groups"].overdue) == 3
    assert f"{summit_day.liaison.user}'s" in admin.content.decode()


def test_plans_by_an_unknown_status_are_all_unsigned_plans(client, summit_day):
    client.force_login(summit_day.front_desk.user)

    with time_machine.travel(NOW, tick=False):
        response = client.get(f"{reverse('referrals:plans_awaiting')}?status=signed")

    assert response.context["status"] is None
    assert sum(len(group.rows) for group in response.context["groups"]) == 3
