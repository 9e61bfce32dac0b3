"""Sources needing attention: who is slipping, most at stake first, with a one-click touch."""

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from clinics.models import Role
from outreach.flags import flags_update
from outreach.models import Flag, FlagKind, FlagSeverity, Touch, TouchKind
from physicians.models import Physician, Stage, Tier

from ..factories import FlagFactory, PhysicianFactory, ReferralFactory, TouchFactory, UserFactory

URL = reverse("outreach:attention")
LOG_URL = reverse("outreach:attention_log")
NOW = datetime.datetime(2026, 3, 4, 17, 0, tzinfo=datetime.UTC)


def flagged(organization, *, tier=Tier.B, referrals=0, severity=FlagSeverity.OVERDUE, **kwargs):
    physician = PhysicianFactory(organization=organization, tier=tier, stage=Stage.MAINTAINING, **kwargs)
    for _ in range(referrals):
        ReferralFactory(organization=organization, physician=physician)
    FlagFactory(
        organization=organization,
        physician=physician,
        severity=severity,
        evidence={"cadence_days": 30, "since": "2026-01-05", "ever": True},
    )
    return physician


def test_most_at_stake_first_tier_then_past_years_referrals(client, login, summit, liaison):
    small_b = flagged(summit, tier=Tier.B, referrals=1)
    busy_b = flagged(summit, tier=Tier.B, referrals=5)
    quiet_a = flagged(summit, tier=Tier.A)
    login(liaison)

    response = client.get(URL)

    assert [p.pk for p in response.context["page"]] == [quiet_a.pk, busy_b.pk, small_b.pk]
    assert b"contact every 30 days" in response.content
    assert "5 referrals in the past year" in response.content.decode()


def test_due_soon_is_hidden_unless_asked_for_and_filters_apply(client, login, summit, liaison):
    overdue = flagged(summit, owner=liaison.user)
    due_soon = flagged(summit, severity=FlagSeverity.DUE_SOON, owner=liaison.user)
    someone_elses = flagged(summit)
    declining = PhysicianFactory(organization=summit, owner=liaison.user)
    FlagFactory(
        organization=summit,
        physician=declining,
        kind=FlagKind.REFERRALS_DECLINING,
        severity=FlagSeverity.DECLINING,
        evidence={"recent": 1, "baseline": 40, "expected": 6.6, "p_value": 0.01},
    )
    login(liaison)

    def shown(**params):
        return {p.pk for p in client.get(URL, params).context["page"]}

    assert shown() == {overdue.pk, someone_elses.pk, declining.pk}
    assert shown(due_soon="on") == {overdue.pk, due_soon.pk, someone_elses.pk, declining.pk}
    assert shown(mine="on") == {overdue.pk, declining.pk}
    assert shown(kind=FlagKind.REFERRALS_DECLINING) == {declining.pk}
    assert "1 referral in the last 60 days" in client.get(URL).content.decode()


def test_closed_flags_and_other_organizations_never_show(client, login, summit, harbor, liaison):
    flagged(harbor)
    closed = flagged(summit)
    Flag.objects.filter(physician=closed).update(closed_at=timezone.now())
    login(liaison)

    response = client.get(URL)

    assert list(response.context["page"]) == []
    assert b"No source needs attention" in response.content


def test_one_click_touch_takes_the_source_off_the_list(
    client, login, summit, liaison, django_capture_on_commit_callbacks
):
    physician = PhysicianFactory(organization=summit, stage=Stage.MAINTAINING, tier=Tier.A)
    TouchFactory(
        organization=summit, physician=physician, occurred_at=timezone.now() - datetime.timedelta(days=40)
    )
    flags_update(organization=summit)
    login(liaison)
    page = client.get(URL)
    assert [p.pk for p in page.context["page"]] == [physician.pk]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("outreach:touch_create"),
            {"physician": physician.pk, "kind": TouchKind.CALL, "next": URL},
        )

    assert response.status_code == 302
    assert response.url == URL
    touch = Touch.objects.latest("pk")
    assert (touch.physician, touch.kind, touch.made_by) == (physician, TouchKind.CALL, liaison.user)
    assert list(client.get(URL).context["page"]) == []
    assert Flag.objects.get(physician=physician).closed_at is not None


def test_the_page_runs_a_fixed_number_of_queries(
    client, login, summit, liaison, django_assert_max_num_queries
):
    login(liaison)
    flagged(summit, referrals=1)
    with django_assert_max_num_queries(12) as one:
        client.get(URL)
    for _ in range(29):
        source = flagged(summit, referrals=2, owner=liaison.user)
        # Reached today by a colleague: the row says so, from the same one query for the page.
        TouchFactory(organization=summit, physician=source, kind=TouchKind.CALL, made_by=UserFactory())
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(URL)
    assert len(response.context["page"]) == 30


def test_a_physicians_page_shows_cadence_last_contact_and_open_flags(
    client, login, summit, liaison, member_factory
):
    physician = flagged(summit, tier=Tier.A)
    TouchFactory(
        organization=summit, physician=physician, occurred_at=timezone.now() - datetime.timedelta(days=3)
    )
    url = reverse("physicians:detail", args=[physician.pk])

    page = login(liaison).get(url).content.decode()

    assert "Contact every 14 days (tier A default)" in page
    assert "(3 days ago)" in page
    assert "Contact overdue" in page
    assert "Earlier:" not in page
    front_desk_page = login(member_factory(summit, Role.FRONT_DESK)).get(url).content.decode()
    assert "Contact every" not in front_desk_page


def test_a_physicians_page_keeps_the_history_of_closed_flags(client, login, summit, liaison):
    physician = PhysicianFactory(organization=summit, stage=Stage.MAINTAINING)
    opened = timezone.now() - datetime.timedelta(days=50)
    FlagFactory(
        organization=summit,
        physician=physician,
        opened_at=opened,
        closed_at=opened + datetime.timedelta(days=9),
        evidence={"cadence_days": 30, "since": "2026-01-05", "ever": True},
    )

    page = login(liaison).get(reverse("physicians:detail", args=[physician.pk])).content.decode()

    opened_on = timezone.localtime(opened).strftime("%b %-d")
    closed_on = timezone.localtime(opened + datetime.timedelta(days=9)).strftime("%b %-d, %Y")
    assert f"Earlier: contact overdue {opened_on}–{closed_on}" in page


def test_an_inactive_physician_leaves_the_list_at_once(client, login, summit, liaison):
    physician = flagged(summit)
    Physician.objects.filter(pk=physician.pk).update(is_active=False)

    assert list(login(liaison).get(URL).context["page"]) == []


def test_an_open_flag_shows_however_many_closed_ones_came_after_it(client, login, summit, liaison):
    physician = flagged(summit, tier=Tier.A)
    Flag.objects.filter(physician=physician).update(
        kind=FlagKind.REFERRALS_DECLINING,
        severity=FlagSeverity.DECLINING,
        evidence={"recent": 0, "baseline": 40, "expected": 6.6, "p_value": 0.001},
        opened_at=timezone.now() - datetime.timedelta(days=100),
    )
    for weeks in range(6):
        opened = timezone.now() - datetime.timedelta(weeks=12 - weeks)
        FlagFactory(
            organization=summit,
            physician=physician,
            severity=FlagSeverity.DUE_SOON,
            opened_at=opened,
            closed_at=opened + datetime.timedelta(days=2),
            evidence={"cadence_days": 14, "since": "2026-01-05", "ever": True},
        )

    page = login(liaison).get(reverse("physicians:detail", args=[physician.pk])).content.decode()

    assert "Referrals declining</span> 0 referrals in the last 60 days" in page
    assert page.count("contact due soon") == 3


# After a quick touch the page says what it changed, and the row shows the touch.


def slipping_and_declining(organization, clinic):
    """A tier A source last called 40 days ago whose 30 referrals a year have stopped: both flags open."""
    physician = PhysicianFactory(
        organization=organization, stage=Stage.MAINTAINING, tier=Tier.A, last_name="Quill"
    )
    TouchFactory(
        organization=organization, physician=physician, occurred_at=NOW - datetime.timedelta(days=40)
    )
    for days_ago in range(100, 400, 10):
        ReferralFactory(
            organization=organization,
            clinic=clinic,
            physician=physician,
            received_at=NOW - datetime.timedelta(days=days_ago),
        )
    flags_update(organization=organization, now=NOW)
    assert set(Flag.objects.filter(closed_at__isnull=True).values_list("kind", flat=True)) == {
        FlagKind.CONTACT_LAPSED,
        FlagKind.REFERRALS_DECLINING,
    }
    return physician


@pytest.mark.django_db(transaction=True)
def test_a_call_to_a_declining_source_says_why_it_stays_and_shows_on_its_row(
    client, login, summit, summit_clinic, liaison
):
    """Without JavaScript: the touch commits, the list comes back with the reason and the touch."""
    with time_machine.travel(NOW, tick=False):
        physician = slipping_and_declining(summit, summit_clinic)
        login(liaison)

        response = client.post(
            LOG_URL, {"physician": physician.pk, "kind": TouchKind.CALL, "return_query": "kind=&page=1"}
        )
        page = client.get(response.url)

    assert response.url == f"{URL}?kind=&page=1"
    assert [p.pk for p in page.context["page"]] == [physician.pk]
    text = page.content.decode()
    assert f"Logged the call with {physician.display_name}. The contact flag is closed." in text
    assert "They stay on Attention for referrals declining." in text
    assert "A referral decline clears only when their referrals come back, not with a touch." in text
    assert "Called today by you" in text
    touch = Touch.objects.latest("pk")
    assert (touch.kind, touch.made_by, touch.logged_by) == (TouchKind.CALL, liaison.user, liaison.user)
    assert set(Flag.objects.filter(closed_at__isnull=True).values_list("kind", flat=True)) == {
        FlagKind.REFERRALS_DECLINING
    }


@pytest.mark.django_db(transaction=True)
def test_with_htmx_the_row_answers_in_place(client, login, summit, summit_clinic, liaison):
    with time_machine.travel(NOW, tick=False):
        declining = slipping_and_declining(summit, summit_clinic)
        lapsed_only = flagged(summit)
        login(liaison)

        stays = client.post(
            LOG_URL, {"physician": declining.pk, "kind": TouchKind.CALL}, HTTP_HX_REQUEST="true"
        )
        leaves = client.post(
            LOG_URL, {"physician": lapsed_only.pk, "kind": TouchKind.LUNCH}, HTTP_HX_REQUEST="true"
        )
        next_page = client.get(URL).content.decode()

    row = stays.content.decode()
    assert stays.status_code == 200
    assert "<html" not in row
    assert f'id="source-{declining.pk}"' in row
    assert "Called today by you" in row
    assert "The contact flag is closed. They stay on Attention for referrals declining." in row
    assert "Log touch" in row  # still on the list, still one click away
    gone = leaves.content.decode()
    assert f'id="source-{lapsed_only.pk}"' in gone
    assert "The contact flag is closed. They are off the Attention list." in gone
    assert "Log touch" not in gone
    assert "Logged the" not in next_page  # said in the row, not again on the next page


def test_a_source_reached_today_by_a_colleague_says_so(client, login, summit, liaison, member_factory):
    ana = member_factory(summit, Role.LIAISON, user__first_name="Ana", user__last_name="Ruiz").user
    with time_machine.travel(NOW, tick=False):
        today = PhysicianFactory(organization=summit)
        yesterday = PhysicianFactory(organization=summit)
        for physician in (today, yesterday):
            FlagFactory(
                organization=summit,
                physician=physician,
                kind=FlagKind.REFERRALS_DECLINING,
                severity=FlagSeverity.DECLINING,
                evidence={"recent": 0, "baseline": 30, "expected": 4.9, "p_value": 0.007},
            )
        TouchFactory(organization=summit, physician=today, kind=TouchKind.OFFICE_VISIT, made_by=ana)
        TouchFactory(
            organization=summit,
            physician=yesterday,
            kind=TouchKind.CALL,
            made_by=ana,
            occurred_at=NOW - datetime.timedelta(days=1),
        )

        page = login(liaison).get(URL).content.decode()

    assert page.count("Visited today by Ana Ruiz") == 1
    assert "Called today" not in page
    assert page.count("Still listed. A referral decline clears only when their referrals come back") == 1


def test_a_quick_touch_for_a_source_of_another_organization_logs_nothing(
    client, login, summit, harbor, liaison
):
    outsider = PhysicianFactory(organization=harbor)
    login(liaison)

    response = client.post(
        LOG_URL,
        {"physician": outsider.pk, "kind": TouchKind.CALL, "return_query": "next=https://evil.example/"},
    )

    assert (response.status_code, response.url) == (302, URL)
    assert not Touch.objects.exists()
    assert "Nothing was logged" in client.get(URL).content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_full_touch_form_says_what_the_touch_changed_too(client, login, summit, summit_clinic, liaison):
    with time_machine.travel(NOW, tick=False):
        physician = slipping_and_declining(summit, summit_clinic)
        login(liaison)

        response = client.post(
            reverse("outreach:touch_create"),
            {"physician": physician.pk, "kind": TouchKind.OFFICE_VISIT, "next": URL},
            follow=True,
        )

    assert "The contact flag is closed. They stay on Attention for referrals declining." in (
        response.content.decode()
    )
