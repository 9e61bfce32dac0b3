import datetime
import hashlib
import importlib

import pytest
from django.apps import apps as django_apps
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar
from pytest_django.asserts import assertInHTML

from clinics.models import Membership, Role
from outreach.models import CalendarFeed
from outreach.services import calendar_feed_reset, calendar_feed_revoke

from ..factories import (
    AffiliationFactory,
    CalendarFeedFactory,
    FollowUpFactory,
    GatekeeperFactory,
    PhysicianFactory,
    PracticeFactory,
    TouchFactory,
    UserFactory,
)


@pytest.fixture(autouse=True)
def site_url(settings):
    """Event ids carry the installation's host, so a test and a live Rapport never collide in one calendar."""
    settings.SITE_URL = "https://rapport.example.org"


def feed_url(token: str) -> str:
    return reverse("outreach:calendar_feed", args=[token])


def events(response) -> dict[str, dict]:
    calendar = Calendar.from_ical(response.content)
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def test_settings_page_offers_to_create_an_address(client, login, liaison):
    login(liaison)

    response = client.get(reverse("outreach:calendar_settings"))

    page = response.content.decode()
    assert "Create my calendar address" in page
    assert "Subscribe from web" in page
    assert "From URL" in page
    assert "Add Subscribed Calendar" in page
    assert "could hold patient details" in page


def test_creating_an_address_shows_it_once_and_keeps_only_its_digest(client, login, liaison):
    login(liaison)

    response = client.post(reverse("outreach:calendar_settings"), {"action": "reset"})

    new_url = response.context["new_url"]
    # From SITE_URL, never from the Host header the client sent.
    assert new_url.startswith("https://rapport.example.org/outreach/calendar/")
    assert new_url in response.content.decode()
    token = new_url.rsplit("/", 1)[1].removesuffix(".ics")
    feed = CalendarFeed.objects.get()
    assert feed.token_digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in feed.token_digest
    assert new_url not in client.get(reverse("outreach:calendar_settings")).content.decode()


def test_the_new_address_can_be_copied_or_opened_in_apple_calendar(client, login, liaison):
    login(liaison)

    response = client.post(reverse("outreach:calendar_settings"), {"action": "reset"})

    page = response.content.decode()
    new_url = response.context["new_url"]
    webcal_url = "webcal://" + new_url.removeprefix("https://")
    assert webcal_url.startswith("webcal://rapport.example.org/outreach/calendar/")
    assertInHTML(f'<a class="btn btn-primary" href="{webcal_url}">Subscribe in Apple Calendar</a>', page)
    # Without JavaScript the address is a selectable field and the Copy button stays hidden.
    assertInHTML(
        f'<input class="form-control font-monospace" id="calendar-url" type="text" value="{new_url}" '
        "readonly>",
        page,
    )
    assertInHTML(
        '<button class="btn btn-outline-primary" type="button" data-copy="calendar-url" '
        'data-copy-status="calendar-url-status" hidden>Copy</button>',
        page,
    )
    assert 'src="/static/js/copy.js"' in page
    assert finders.find("js/copy.js")


def test_feed_serves_the_users_open_follow_ups_without_signing_in(client, liaison, summit, member_factory):
    token = calendar_feed_reset(organization=summit, user=liaison.user)
    physician = PhysicianFactory(organization=summit, first_name="Ada", last_name="Quill", credential="MD")
    touch = TouchFactory(organization=summit, physician=physician, notes="Touch note: Mrs Smith's knee")
    mine = FollowUpFactory(
        organization=summit,
        owner=liaison.user,
        touch=touch,
        note="Follow-up note: ask about Mr Jones",
        due_on=timezone.localdate() + datetime.timedelta(days=2),
    )
    practice = PracticeFactory(organization=summit, name="Elm Street Orthopedics")
    practice_touch = TouchFactory(organization=summit, physician=None, practice=practice)
    overdue = FollowUpFactory(
        organization=summit,
        owner=liaison.user,
        touch=practice_touch,
        due_on=timezone.localdate() - datetime.timedelta(days=29),
    )
    too_old = FollowUpFactory(
        organization=summit, owner=liaison.user, due_on=timezone.localdate() - datetime.timedelta(days=31)
    )
    done = FollowUpFactory(organization=summit, owner=liaison.user, completed_at=timezone.now())
    colleagues = FollowUpFactory(organization=summit, owner=member_factory(summit, Role.LIAISON).user)

    response = client.get(feed_url(token))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert response["Cache-Control"] == "private, no-store"
    found = events(response)
    assert set(found) == {
        f"followup-{mine.pk}@rapport.example.org",
        f"followup-{overdue.pk}@rapport.example.org",
    }
    event = found[f"followup-{mine.pk}@rapport.example.org"]
    assert str(event["SUMMARY"]) == "Follow up: Ada Quill, MD"
    assert event.start == mine.due_on
    assert event.end == mine.due_on + datetime.timedelta(days=1)
    assert "DTSTAMP" in event
    assert str(event["URL"]) == "https://rapport.example.org" + reverse("outreach:followups")
    assert (
        str(found[f"followup-{overdue.pk}@rapport.example.org"]["SUMMARY"])
        == "Follow up: Elm Street Orthopedics"
    )
    body = response.content.decode()
    for private in ("Mrs Smith", "Mr Jones", "Bring the new program flyer"):
        assert private not in body
    for absent in (too_old, done, colleagues):
        assert f"followup-{absent.pk}@" not in body


def test_feed_shows_only_the_organization_it_was_made_in(client, liaison, summit, harbor, member_factory):
    member_factory(harbor, Role.LIAISON, user=liaison.user)
    token = calendar_feed_reset(organization=summit, user=liaison.user)
    in_summit = FollowUpFactory(organization=summit, owner=liaison.user)
    in_harbor = FollowUpFactory(organization=harbor, owner=liaison.user)

    found = events(client.get(feed_url(token)))

    assert f"followup-{in_summit.pk}@rapport.example.org" in found
    assert f"followup-{in_harbor.pk}@rapport.example.org" not in found


def test_an_unknown_token_is_404(client, summit):
    CalendarFeedFactory(organization=summit)

    assert client.get(feed_url("not-a-real-token")).status_code == 404


def test_a_reset_address_replaces_the_old_one(client, login, liaison, summit):
    old = calendar_feed_reset(organization=summit, user=liaison.user)
    login(liaison)

    response = client.post(reverse("outreach:calendar_settings"), {"action": "reset"})
    client.logout()

    new = response.context["new_url"].rsplit("/", 1)[1].removesuffix(".ics")
    assert client.get(feed_url(old)).status_code == 404
    assert client.get(feed_url(new)).status_code == 200
    assert CalendarFeed.objects.filter(revoked_at__isnull=True).count() == 1


def test_turning_the_address_off_revokes_it(client, login, liaison, summit):
    token = calendar_feed_reset(organization=summit, user=liaison.user)
    login(liaison)

    response = client.post(reverse("outreach:calendar_settings"), {"action": "revoke"}, follow=True)

    assert "Create my calendar address" in response.content.decode()
    assert client.get(feed_url(token)).status_code == 404
    assert calendar_feed_revoke(organization=summit, user=liaison.user) == 0


def test_a_deactivated_membership_ends_the_feed(client, liaison, summit):
    token = calendar_feed_reset(organization=summit, user=liaison.user)
    FollowUpFactory(organization=summit, owner=liaison.user)
    liaison.is_active = False
    liaison.save()

    assert client.get(feed_url(token)).status_code == 404


def test_a_role_without_follow_ups_ends_the_feed(client, liaison, summit):
    token = calendar_feed_reset(organization=summit, user=liaison.user)
    liaison.role = Role.FRONT_DESK
    liaison.save()

    assert client.get(feed_url(token)).status_code == 404


# Leaving revokes for good: the old secret may have been shared while its holder was away.


def test_deactivation_revokes_the_address_and_reactivation_does_not_revive_it(
    client, admin_client, liaison, summit
):
    token = calendar_feed_reset(organization=summit, user=liaison.user)

    admin_client.post(reverse("clinics:staff_deactivate", args=[liaison.pk]))
    admin_client.post(reverse("clinics:staff_reactivate", args=[liaison.pk]))

    liaison.refresh_from_db()
    assert liaison.is_active
    assert client.get(feed_url(token)).status_code == 404
    assert not CalendarFeed.objects.filter(revoked_at__isnull=True).exists()
    fresh = calendar_feed_reset(organization=summit, user=liaison.user)
    assert client.get(feed_url(fresh)).status_code == 200


def test_losing_the_outreach_role_revokes_the_address_and_regaining_it_does_not_revive_it(
    client, admin_client, liaison, summit
):
    token = calendar_feed_reset(organization=summit, user=liaison.user)
    edit = reverse("clinics:staff_edit", args=[liaison.pk])

    admin_client.post(edit, {"role": Role.FRONT_DESK})
    admin_client.post(edit, {"role": Role.LIAISON})

    liaison.refresh_from_db()
    assert liaison.role == Role.LIAISON
    assert client.get(feed_url(token)).status_code == 404


def test_a_change_between_outreach_roles_keeps_the_address(client, admin_client, liaison, summit):
    token = calendar_feed_reset(organization=summit, user=liaison.user)

    admin_client.post(reverse("clinics:staff_edit", args=[liaison.pk]), {"role": Role.THERAPIST})

    assert client.get(feed_url(token)).status_code == 200


def test_a_role_edited_on_the_admin_site_revokes_the_address_too(client, liaison, summit):
    token = calendar_feed_reset(organization=summit, user=liaison.user)
    superuser = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(superuser)

    change = reverse("admin:clinics_membership_change", args=[liaison.pk])
    fields = {"user": liaison.user.pk, "organization": summit.pk, "is_active": "on"}

    demoted = client.post(change, {**fields, "role": Role.FRONT_DESK})
    restored = client.post(change, {**fields, "role": Role.LIAISON})
    client.logout()

    assert (demoted.status_code, restored.status_code) == (302, 302)
    liaison.refresh_from_db()
    assert liaison.role == Role.LIAISON
    assert client.get(feed_url(token)).status_code == 404


def test_the_migration_revokes_addresses_left_suspended_by_an_earlier_deactivation(
    client, liaison, summit, member_factory
):
    away = liaison
    away_token = calendar_feed_reset(organization=summit, user=away.user)
    present = member_factory(summit, Role.THERAPIST)
    present_token = calendar_feed_reset(organization=summit, user=present.user)
    Membership.objects.filter(pk=away.pk).update(is_active=False)  # as deactivation did before

    migration = importlib.import_module("outreach.migrations.0003_revoke_calendar_feeds_of_lost_access")
    migration.revoke_feeds_of_lost_access(django_apps, None)
    Membership.objects.filter(pk=away.pk).update(is_active=True)

    assert client.get(feed_url(away_token)).status_code == 404
    assert client.get(feed_url(present_token)).status_code == 200


def test_the_feed_runs_constant_queries(client, liaison, summit, django_assert_max_num_queries):
    token = calendar_feed_reset(organization=summit, user=liaison.user)
    for _ in range(30):
        FollowUpFactory(organization=summit, owner=liaison.user)

    with django_assert_max_num_queries(3):
        response = client.get(feed_url(token))

    assert len(events(response)) == 30


def test_a_gatekeeper_touch_is_named_by_its_practice_and_the_gatekeepers_first_name(client, liaison, summit):
    token = calendar_feed_reset(organization=summit, user=liaison.user)
    affiliation = AffiliationFactory(
        organization=summit,
        physician__first_name="Ada",
        physician__last_name="Quill",
        practice__name="Elm Street Orthopedics",
    )
    gatekeeper = GatekeeperFactory(
        organization=summit, practice=affiliation.practice, first_name="Tina", last_name="Marsh"
    )
    office = FollowUpFactory(
        organization=summit,
        owner=liaison.user,
        touch__physician=None,
        touch__practice=affiliation.practice,
        touch__gatekeeper=gatekeeper,
    )
    with_physician = FollowUpFactory(
        organization=summit,
        owner=liaison.user,
        touch__physician=affiliation.physician,
        touch__practice=affiliation.practice,
        touch__gatekeeper=gatekeeper,
    )

    found = events(client.get(feed_url(token)))

    assert (
        str(found[f"followup-{office.pk}@rapport.example.org"]["SUMMARY"])
        == "Follow up: Elm Street Orthopedics (via Tina)"
    )
    assert (
        str(found[f"followup-{with_physician.pk}@rapport.example.org"]["SUMMARY"])
        == "Follow up: Ada Quill, MD (via Tina)"
    )
    assert "Marsh" not in client.get(feed_url(token)).content.decode()


def test_a_follow_up_due_beyond_what_a_calendar_can_hold_is_left_out(client, liaison, summit):
    token = calendar_feed_reset(organization=summit, user=liaison.user)
    # Rows from before follow-up dates were limited: the feed must still load.
    end_of_time = FollowUpFactory(organization=summit, owner=liaison.user, due_on=datetime.date.max)
    eve = FollowUpFactory(
        organization=summit, owner=liaison.user, due_on=datetime.date.max - datetime.timedelta(days=1)
    )
    ordinary = FollowUpFactory(organization=summit, owner=liaison.user)

    response = client.get(feed_url(token))

    assert response.status_code == 200
    found = events(response)
    assert f"followup-{end_of_time.pk}@rapport.example.org" not in found
    assert {f"followup-{eve.pk}@rapport.example.org", f"followup-{ordinary.pk}@rapport.example.org"} <= set(
        found
    )
