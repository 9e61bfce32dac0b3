import datetime
import zoneinfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinics.models import Role
from outreach.models import FollowUp
from outreach.services import followup_complete, followup_snooze

from ..factories import ClinicFactory, FollowUpFactory, GatekeeperFactory, PhysicianFactory, TouchFactory

DENVER = zoneinfo.ZoneInfo("America/Denver")
# 10:30 pm in Denver on March 10 is already March 11 in UTC.
LATE_EVENING = datetime.datetime(2026, 3, 10, 22, 30, tzinfo=DENVER)
TODAY = datetime.date(2026, 3, 10)


@pytest.fixture
def liaison(summit, member_factory):
    clinic = ClinicFactory(organization=summit, timezone="America/Denver")
    return member_factory(summit, Role.LIAISON, home_clinic=clinic)


@pytest.fixture
def liaison_client(client, login, liaison):
    return login(liaison)


def follow_up_for(membership, **kwargs):
    return FollowUpFactory(organization=membership.organization, owner=membership.user, **kwargs)


def test_open_follow_ups_are_grouped_around_the_users_today(
    liaison_client, liaison, summit, harbor, member_factory
):
    with time_machine.travel(LATE_EVENING, tick=False):
        overdue = follow_up_for(liaison, due_on=TODAY - datetime.timedelta(days=2))
        today = follow_up_for(liaison, due_on=TODAY)
        later = follow_up_for(liaison, due_on=TODAY + datetime.timedelta(days=1))
        latest = follow_up_for(liaison, due_on=TODAY + datetime.timedelta(days=30))
        done = follow_up_for(liaison, due_on=TODAY, completed_at=timezone.now() - datetime.timedelta(days=1))
        follow_up_for(liaison, due_on=TODAY, completed_at=timezone.now() - datetime.timedelta(days=40))
        FollowUpFactory(organization=summit, owner=member_factory(summit, Role.LIAISON).user, due_on=TODAY)
        FollowUpFactory(organization=harbor, owner=liaison.user, due_on=TODAY)

        response = liaison_client.get(reverse("outreach:followups"))

    groups = response.context["groups"]
    assert response.context["today"] == TODAY
    assert groups.overdue == [overdue]
    assert groups.today == [today]
    assert groups.upcoming == [later, latest]
    assert groups.recently_completed == [done]


def test_each_follow_up_shows_whom_the_note_the_touch_and_its_actions(liaison_client, liaison, summit):
    physician = PhysicianFactory(organization=summit, first_name="Ada", last_name="Quill")
    touch = TouchFactory(organization=summit, physician=physician, kind="lunch", made_by=liaison.user)
    follow_up = follow_up_for(liaison, touch=touch, note="Bring the flyer")

    page = liaison_client.get(reverse("outreach:followups")).content.decode()

    assert "Ada Quill" in page
    assert "Bring the flyer" in page
    assert "from the lunch on" in page
    assert reverse("outreach:followup_complete", args=[follow_up.pk]) in page
    assert reverse("outreach:followup_snooze", args=[follow_up.pk]) in page
    assert reverse("outreach:calendar_settings") in page


def test_the_owner_completes_a_follow_up(liaison_client, liaison):
    follow_up = follow_up_for(liaison)

    response = liaison_client.post(reverse("outreach:followup_complete", args=[follow_up.pk]))

    assert response.status_code == 302
    assert response.url == f"{reverse('outreach:followups')}?done={follow_up.pk}"
    follow_up.refresh_from_db()
    assert follow_up.completed_at is not None


def test_complete_and_snooze_answer_get_with_405(liaison_client, liaison):
    follow_up = follow_up_for(liaison)

    assert liaison_client.get(reverse("outreach:followup_complete", args=[follow_up.pk])).status_code == 405
    assert liaison_client.get(reverse("outreach:followup_snooze", args=[follow_up.pk])).status_code == 405


@pytest.mark.parametrize("url_name", ["outreach:followup_complete", "outreach:followup_snooze"])
def test_a_colleague_cannot_complete_or_snooze_someone_elses_follow_up(
    client, login, liaison, summit, member_factory, url_name
):
    follow_up = follow_up_for(liaison)
    due_on = follow_up.due_on
    login(member_factory(summit, Role.LIAISON))

    # Refused with a message on their own follow-ups page (the role matrix expects a page, not an error).
    response = client.post(reverse(url_name, args=[follow_up.pk]), {"days": 3}, follow=True)

    assert response.status_code == 200
    assert "Only the owner of this follow-up or an admin" in response.content.decode()
    follow_up.refresh_from_db()
    assert follow_up.completed_at is None
    assert follow_up.due_on == due_on
    assert follow_up.snoozed_from is None


@pytest.mark.parametrize("url_name", ["outreach:followup_complete", "outreach:followup_snooze"])
def test_another_organizations_follow_up_is_404(client, login, harbor, summit, member_factory, url_name):
    follow_up = FollowUpFactory(organization=harbor)
    login(member_factory(summit, Role.ADMIN))

    assert client.post(reverse(url_name, args=[follow_up.pk]), {"days": 1}).status_code == 404


def test_an_admin_completes_and_snoozes_a_colleagues_follow_up(client, login, liaison, summit_admin):
    first = follow_up_for(liaison)
    second = follow_up_for(liaison)
    login(summit_admin)

    client.post(reverse("outreach:followup_complete", args=[first.pk]))
    client.post(reverse("outreach:followup_snooze", args=[second.pk]), {"days": 7})

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.completed_at is not None
    assert second.snoozed_from is not None


def test_snooze_moves_from_today_for_an_overdue_one_and_keeps_the_first_due_date(liaison_client, liaison):
    with time_machine.travel(LATE_EVENING, tick=False):
        follow_up = follow_up_for(liaison, due_on=TODAY - datetime.timedelta(days=5))
        url = reverse("outreach:followup_snooze", args=[follow_up.pk])

        liaison_client.post(url, {"days": 3})
        follow_up.refresh_from_db()
        assert follow_up.due_on == TODAY + datetime.timedelta(days=3)
        assert follow_up.snoozed_from == TODAY - datetime.timedelta(days=5)

        liaison_client.post(url, {"days": 7})
        follow_up.refresh_from_db()
        # Later than today now, so a week from its due date.
        assert follow_up.due_on == TODAY + datetime.timedelta(days=10)
        assert follow_up.snoozed_from == TODAY - datetime.timedelta(days=5)


def test_snooze_to_a_chosen_date(liaison_client, liaison):
    with time_machine.travel(LATE_EVENING, tick=False):
        follow_up = follow_up_for(liaison, due_on=TODAY)

        response = liaison_client.post(
            reverse("outreach:followup_snooze", args=[follow_up.pk]), {"until": "2026-04-01"}, follow=True
        )

    follow_up.refresh_from_db()
    assert follow_up.due_on == datetime.date(2026, 4, 1)
    assert follow_up.snoozed_from == TODAY
    assert "Snoozed the follow-up" in response.content.decode()


@pytest.mark.parametrize("data", [{"until": "2026-03-09"}, {}, {"days": "99"}, {"until": "soon"}])
def test_snooze_to_the_past_or_nowhere_is_refused(liaison_client, liaison, data):
    with time_machine.travel(LATE_EVENING, tick=False):
        follow_up = follow_up_for(liaison, due_on=TODAY)

        response = liaison_client.post(
            reverse("outreach:followup_snooze", args=[follow_up.pk]), data, follow=True
        )

    assert response.status_code == 200
    follow_up.refresh_from_db()
    assert follow_up.due_on == TODAY
    assert follow_up.snoozed_from is None
    assert response.context["messages"]


def test_services_check_the_user_the_date_and_the_state(liaison, summit, member_factory):
    follow_up = follow_up_for(liaison)
    colleague = member_factory(summit, Role.THERAPIST)

    with pytest.raises(PermissionDenied):
        followup_complete(follow_up=follow_up, acting=colleague)
    with pytest.raises(PermissionDenied):
        followup_snooze(follow_up=follow_up, acting=colleague, until=follow_up.due_on)
    with pytest.raises(ValidationError, match="today or a later date"):
        followup_snooze(
            follow_up=follow_up, acting=liaison, until=timezone.localdate() - datetime.timedelta(days=1)
        )

    followup_complete(follow_up=follow_up, acting=liaison)
    completed_at = follow_up.completed_at
    followup_complete(follow_up=follow_up, acting=liaison)
    assert FollowUp.objects.get().completed_at == completed_at
    with pytest.raises(ValidationError, match="already done"):
        followup_snooze(follow_up=follow_up, acting=liaison, until=timezone.localdate())


def test_a_safe_next_is_followed_after_completing(liaison_client, liaison):
    first, second = follow_up_for(liaison), follow_up_for(liaison)

    safe = liaison_client.post(
        reverse("outreach:followup_complete", args=[first.pk]), {"next": "/outreach/attention/"}
    )
    unsafe = liaison_client.post(
        reverse("outreach:followup_complete", args=[second.pk]), {"next": "//evil.example.com/"}
    )

    assert safe.url == "/outreach/attention/"
    assert unsafe.url == f"{reverse('outreach:followups')}?done={second.pk}"


def test_follow_ups_page_runs_constant_queries(
    liaison_client, liaison, summit, django_assert_max_num_queries
):
    def add_follow_ups(count):
        for index in range(count):
            gatekeeper = GatekeeperFactory(organization=summit)
            touch = TouchFactory(
                organization=summit, practice=gatekeeper.practice, gatekeeper=gatekeeper, made_by=liaison.user
            )
            follow_up_for(
                liaison,
                touch=touch,
                due_on=timezone.localdate() + datetime.timedelta(days=index - 10),
                completed_at=timezone.now() if index % 5 == 0 else None,
            )

    url = reverse("outreach:followups")
    add_follow_ups(1)
    with django_assert_max_num_queries(8):
        liaison_client.get(url)
    with CaptureQueriesContext(connection) as one_follow_up:
        liaison_client.get(url)
    add_follow_ups(29)

    with django_assert_max_num_queries(len(one_follow_up)):
        response = liaison_client.get(url)

    assert response.context["groups"].open_count == 23


def test_snoozing_more_than_two_years_ahead_is_refused(liaison_client, liaison):
    with time_machine.travel(LATE_EVENING, tick=False):
        follow_up = follow_up_for(liaison, due_on=TODAY)

        response = liaison_client.post(
            reverse("outreach:followup_snooze", args=[follow_up.pk]), {"until": "9999-12-31"}, follow=True
        )

    assert response.status_code == 200
    assert "Choose a date within two years, by Mar 9, 2028." in response.content.decode()
    follow_up.refresh_from_db()
    assert follow_up.due_on == TODAY


def test_snoozing_a_follow_up_due_at_the_end_of_time_is_refused_not_a_500(liaison_client, liaison):
    # A row from before follow-up dates were limited.
    follow_up = follow_up_for(liaison, due_on=datetime.date.max)

    response = liaison_client.post(
        reverse("outreach:followup_snooze", args=[follow_up.pk]), {"days": 7}, follow=True
    )

    assert response.status_code == 200
    assert "Choose a date within two years" in response.content.decode()
    follow_up.refresh_from_db()
    assert follow_up.due_on == datetime.date.max


def test_the_snooze_service_refuses_more_than_two_years_ahead(liaison):
    follow_up = follow_up_for(liaison)

    with pytest.raises(ValidationError, match="within two years"):
        followup_snooze(follow_up=follow_up, acting=liaison, until=datetime.date(9999, 12, 31))


def test_only_an_admin_of_the_same_organization_settles_someone_elses_follow_up(
    liaison, summit, harbor, member_factory
):
    follow_up = follow_up_for(liaison)

    with pytest.raises(PermissionDenied):
        followup_complete(follow_up=follow_up, acting=member_factory(harbor, Role.ADMIN))
    assert FollowUp.objects.get().completed_at is None

    followup_complete(follow_up=follow_up, acting=member_factory(summit, Role.ADMIN))
    assert FollowUp.objects.get().completed_at is not None
