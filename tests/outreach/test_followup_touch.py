"""A done follow-up offers to log the touch it stood for, in one click: the contact counts toward cadence."""

import datetime

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertInHTML

from clinics.models import Role
from outreach.flags import flags_update
from outreach.models import Flag, FollowUp, Touch, TouchKind
from outreach.services import followup_log_touch
from physicians.models import Physician, Stage

from ..factories import AffiliationFactory, FollowUpFactory, GatekeeperFactory, PhysicianFactory, TouchFactory


@pytest.fixture
def liaison_client(client, login, liaison):
    return login(liaison)


def follow_up_for(membership, **touch):
    organization = membership.organization
    return FollowUpFactory(
        organization=organization,
        owner=membership.user,
        touch=TouchFactory(organization=organization, made_by=membership.user, **touch),
    )


def said(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def log_url(follow_up) -> str:
    return reverse("outreach:followup_log_touch", args=[follow_up.pk])


def test_completing_offers_to_log_the_touch_it_stood_for(liaison_client, liaison, summit):
    ada = PhysicianFactory(organization=summit, first_name="Ada", last_name="Quill", credential="MD")
    follow_up = follow_up_for(liaison, physician=ada, kind=TouchKind.CALL)

    page = liaison_client.post(reverse("outreach:followup_complete", args=[follow_up.pk]), follow=True)

    html = page.content.decode()
    assert "Done: follow-up with Ada Quill, MD." in html
    assert f'action="{log_url(follow_up)}"' in html
    assertInHTML(
        '<button class="btn btn-primary" type="submit" name="kind" value="call">'
        "Log the call with Ada Quill, MD</button>",
        html,
    )
    assertInHTML(
        '<button class="btn btn-outline-primary" type="submit" name="kind" value="email">'
        'Log the email<span class="visually-hidden"> with Ada Quill, MD</span></button>',
        html,
    )


@pytest.mark.django_db(transaction=True)
def test_one_click_logs_it_with_the_same_people_and_closes_the_contact_flag(liaison_client, liaison, summit):
    """Committed as in production: the flags are evaluated again once the touch is saved."""
    affiliation = AffiliationFactory(organization=summit, physician__stage=Stage.MAINTAINING)
    physician, practice = affiliation.physician, affiliation.practice
    gatekeeper = GatekeeperFactory(organization=summit, practice=practice)
    Physician.objects.filter(pk=physician.pk).update(created_at=timezone.now() - datetime.timedelta(days=200))
    long_ago = timezone.now() - datetime.timedelta(days=150)
    follow_up = follow_up_for(
        liaison, physician=physician, practice=practice, gatekeeper=gatekeeper, occurred_at=long_ago
    )
    follow_up.completed_at = timezone.now()
    follow_up.save()
    flags_update(organization=summit, physician_ids=[physician.pk])
    assert Flag.objects.filter(physician=physician, closed_at__isnull=True).exists()

    response = liaison_client.post(log_url(follow_up), {"kind": "call", "notes": "Confirmed the in-service"})

    assert response.url == reverse("outreach:followups")
    touch = Touch.objects.get(kind=TouchKind.CALL)
    assert (touch.physician, touch.practice, touch.gatekeeper) == (physician, practice, gatekeeper)
    assert (touch.made_by, touch.logged_by, touch.notes) == (
        liaison.user,
        liaison.user,
        "Confirmed the in-service",
    )
    follow_up.refresh_from_db()
    assert follow_up.logged_touch == touch
    assert not Flag.objects.filter(physician=physician, closed_at__isnull=True).exists()
    assert said(response)[0].startswith(
        f"Logged the call with {touch.with_whom}. The contact flag is closed."
    )


def test_once_logged_the_offer_is_gone_and_a_second_click_logs_nothing(liaison_client, liaison, summit):
    follow_up = follow_up_for(liaison, kind=TouchKind.OFFICE_VISIT)
    liaison_client.post(reverse("outreach:followup_complete", args=[follow_up.pk]))

    liaison_client.post(log_url(follow_up), {"kind": "office_visit"})
    liaison_client.post(log_url(follow_up), {"kind": "office_visit"})

    assert (
        Touch.objects.filter(kind=TouchKind.OFFICE_VISIT).count() == 2
    )  # the first visit and the logged one
    page = liaison_client.get(f"{reverse('outreach:followups')}?done={follow_up.pk}")
    assert page.context["just_done"] is None
    html = page.content.decode()
    assert log_url(follow_up) not in html
    assert "office visit logged" in html


def test_a_touch_removed_as_a_mistake_is_offered_again(liaison_client, liaison, summit):
    follow_up = follow_up_for(liaison)
    touch = followup_log_touch(
        follow_up=follow_up, acting=liaison, kind=TouchKind.CALL, occurred_at=timezone.now()
    )

    liaison_client.post(reverse("outreach:touch_remove", args=[touch.pk]))

    follow_up.refresh_from_db()
    assert (follow_up.logged_touch, follow_up.is_open) == (None, False)
    assert log_url(follow_up) in liaison_client.get(reverse("outreach:followups")).content.decode()


def test_logging_an_open_follow_up_also_completes_it(liaison):
    follow_up = follow_up_for(liaison)

    followup_log_touch(follow_up=follow_up, acting=liaison, kind=TouchKind.EMAIL, occurred_at=timezone.now())

    follow_up.refresh_from_db()
    assert not follow_up.is_open
    assert follow_up.logged_touch.kind == TouchKind.EMAIL


@pytest.mark.parametrize(
    ("came_from", "offered"),
    [
        (TouchKind.CALL, [TouchKind.CALL, TouchKind.EMAIL, TouchKind.OFFICE_VISIT]),
        (TouchKind.EMAIL, [TouchKind.EMAIL, TouchKind.CALL, TouchKind.OFFICE_VISIT]),
        (TouchKind.LETTER, [TouchKind.LETTER, TouchKind.CALL, TouchKind.EMAIL]),
        (TouchKind.LUNCH, [TouchKind.CALL, TouchKind.EMAIL, TouchKind.OFFICE_VISIT]),
        (TouchKind.SERVICE_ANNOUNCEMENT, [TouchKind.CALL, TouchKind.EMAIL, TouchKind.OFFICE_VISIT]),
    ],
)
def test_the_kind_it_came_from_is_offered_first_when_a_follow_up_is_usually_taken_that_way(
    came_from, offered
):
    assert FollowUp(touch=Touch(kind=came_from)).kinds_to_log == offered


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "service_announcement"}, "Choose the kind of contact you made"),
        ({"kind": "telepathy"}, "Choose the kind of contact you made"),
        ({}, "Choose the kind of contact you made"),
        ({"kind": "call", "notes": "x" * 1001}, "at most 1,000 characters"),
    ],
)
def test_a_wrong_kind_or_a_long_note_is_refused_with_a_message(liaison_client, liaison, data, message):
    follow_up = follow_up_for(liaison)

    response = liaison_client.post(log_url(follow_up), data)

    assert message in " ".join(said(response))
    assert Touch.objects.count() == 1


def test_the_service_refuses_a_kind_that_is_not_contact(liaison):
    follow_up = follow_up_for(liaison)

    with pytest.raises(Exception, match="Choose the kind of contact"):
        followup_log_touch(
            follow_up=follow_up,
            acting=liaison,
            kind=TouchKind.SERVICE_ANNOUNCEMENT,
            occurred_at=timezone.now(),
        )


def test_a_colleague_cannot_log_it_but_an_admin_can(client, login, liaison, summit, member_factory):
    follow_up = follow_up_for(liaison)

    refused = login(member_factory(summit, Role.LIAISON)).post(log_url(follow_up), {"kind": "call"})
    assert "Only the owner of this follow-up or an admin" in " ".join(said(refused))
    assert Touch.objects.count() == 1

    admin = member_factory(summit, Role.ADMIN)
    login(admin).post(log_url(follow_up), {"kind": "call"})
    follow_up.refresh_from_db()
    assert follow_up.logged_touch.made_by == admin.user


def test_the_offer_is_only_for_the_users_own_follow_up(liaison_client, liaison, summit, member_factory):
    colleagues = FollowUpFactory(
        organization=summit, owner=member_factory(summit, Role.LIAISON).user, completed_at=timezone.now()
    )

    page = liaison_client.get(f"{reverse('outreach:followups')}?done={colleagues.pk}")

    assert page.context["just_done"] is None
    assert log_url(colleagues) not in page.content.decode()


def test_the_page_with_the_offer_and_logged_follow_ups_runs_constant_queries(
    liaison_client, liaison, summit, django_assert_max_num_queries
):
    def add_done(count, *, logged):
        for _ in range(count):
            follow_up = follow_up_for(liaison)
            follow_up.completed_at = timezone.now() - datetime.timedelta(hours=1)
            follow_up.save()
            if logged:
                followup_log_touch(
                    follow_up=follow_up, acting=liaison, kind=TouchKind.CALL, occurred_at=timezone.now()
                )

    offered = follow_up_for(liaison)
    liaison_client.post(reverse("outreach:followup_complete", args=[offered.pk]))
    add_done(1, logged=False)
    url = f"{reverse('outreach:followups')}?done={offered.pk}"
    with CaptureQueriesContext(connection) as few:
        liaison_client.get(url)
    add_done(9, logged=False)
    add_done(10, logged=True)

    with django_assert_max_num_queries(len(few)):
        response = liaison_client.get(url)

    assert response.context["just_done"] == offered
    assert len(response.context["groups"].recently_completed) == 20
