import datetime
import importlib

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinics.models import Role
from outreach.models import Flag, FollowUp, Touch, TouchKind
from outreach.services import FOLLOW_UP_MAX_DAYS_AHEAD, touch_log, touch_log_broadcast
from physicians.models import Physician, Stage

from ..factories import (
    AffiliationFactory,
    FollowUpFactory,
    GatekeeperFactory,
    PhysicianFactory,
    PracticeFactory,
    TouchFactory,
    UserFactory,
)


@pytest.fixture
def liaison_client(client, login, liaison):
    return login(liaison)


def test_touch_is_logged_with_every_detail_and_a_follow_up(liaison_client, summit, member_factory):
    colleague = member_factory(summit, Role.THERAPIST)
    affiliation = AffiliationFactory(organization=summit)
    gatekeeper = GatekeeperFactory(organization=summit, practice=affiliation.practice)
    follow_up_on = timezone.localdate() + datetime.timedelta(days=14)

    response = liaison_client.post(
        reverse("outreach:touch_create"),
        {
            "physician": affiliation.physician.pk,
            "practice": affiliation.practice.pk,
            "gatekeeper": gatekeeper.pk,
            "kind": TouchKind.IN_SERVICE,
            "occurred_at": "2026-03-02T12:15",
            "made_by": colleague.user.pk,
            "outcome": "positive",
            "notes": "Presented the vestibular program to the whole office.",
            "follow_up_on": follow_up_on.isoformat(),
            "follow_up_note": "Send the referral pad",
            "next": "/outreach/touches/",
        },
    )

    assert response.status_code == 302
    assert response.url == "/outreach/touches/"
    touch = Touch.objects.get()
    assert (touch.physician, touch.practice, touch.gatekeeper) == (
        affiliation.physician,
        affiliation.practice,
        gatekeeper,
    )
    assert touch.kind == TouchKind.IN_SERVICE
    assert touch.made_by == colleague.user
    assert timezone.localtime(touch.occurred_at).strftime("%Y-%m-%d %H:%M") == "2026-03-02 12:15"
    assert touch.outcome == "positive"
    follow_up = FollowUp.objects.get()
    assert (follow_up.touch, follow_up.owner, follow_up.due_on) == (touch, colleague.user, follow_up_on)
    assert follow_up.note == "Send the referral pad"


def test_quick_form_needs_only_a_physician_and_a_kind(liaison_client, liaison, summit):
    physician = PhysicianFactory(organization=summit)
    before = timezone.now()

    response = liaison_client.post(
        reverse("outreach:touch_create"),
        {
            "physician": physician.pk,
            "kind": TouchKind.CALL,
            "next": "/outreach/attention/?kind=contact_lapsed",
        },
    )

    assert response.status_code == 302
    assert response.url == "/outreach/attention/?kind=contact_lapsed"
    touch = Touch.objects.get()
    assert touch.physician == physician
    assert touch.made_by == liaison.user
    assert before <= touch.occurred_at <= timezone.now()
    assert not FollowUp.objects.exists()


def test_after_saving_an_unsafe_next_is_ignored(liaison_client, summit):
    physician = PhysicianFactory(organization=summit)

    response = liaison_client.post(
        reverse("outreach:touch_create"),
        {"physician": physician.pk, "kind": TouchKind.CALL, "next": "https://evil.example.com/"},
    )

    assert response.url == reverse("physicians:detail", args=[physician.pk])


def test_a_practice_touch_returns_to_the_practice(liaison_client, summit):
    practice = PracticeFactory(organization=summit)

    response = liaison_client.post(
        reverse("outreach:touch_create"), {"practice": practice.pk, "kind": TouchKind.LUNCH}
    )

    assert response.url == reverse("physicians:practice_detail", args=[practice.pk])
    assert Touch.objects.get().practice == practice


def test_a_gatekeeper_touch_counts_at_their_practice(liaison_client, summit):
    gatekeeper = GatekeeperFactory(organization=summit)

    liaison_client.post(reverse("outreach:touch_create"), {"gatekeeper": gatekeeper.pk, "kind": "call"})

    assert Touch.objects.get().practice == gatekeeper.practice


def test_another_organizations_physician_is_refused(liaison_client, harbor):
    foreign = PhysicianFactory(organization=harbor)

    response = liaison_client.post(
        reverse("outreach:touch_create"), {"physician": foreign.pk, "kind": TouchKind.CALL}
    )

    assert response.status_code == 200
    assert "Choose a physician from your directory." in response.content.decode()
    assert not Touch.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"physician": ""}, "Choose a physician, a practice or a gatekeeper."),
        ({"kind": TouchKind.SERVICE_ANNOUNCEMENT}, "Select a valid choice."),
        ({"kind": ""}, "This field is required."),
        ({"physician": "not-a-number"}, "Choose a physician from your directory."),
        ({"occurred_at": "2099-01-01T09:00"}, "A touch is something that happened"),
        ({"occurred_at": "yesterday"}, "Enter a valid date/time."),
        ({"follow_up_on": "2020-01-01"}, "Choose today or a later date."),
        ({"follow_up_note": "Call back"}, "Choose when to follow up."),
    ],
)
def test_invalid_input_shows_errors_not_a_500(liaison_client, summit, overrides, message):
    physician = PhysicianFactory(organization=summit)
    data = {"physician": physician.pk, "kind": TouchKind.CALL, **overrides}

    response = liaison_client.post(reverse("outreach:touch_create"), data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Touch.objects.exists()


def test_a_gatekeeper_at_another_practice_is_refused(liaison_client, summit):
    gatekeeper = GatekeeperFactory(organization=summit)
    other_practice = PracticeFactory(organization=summit)

    response = liaison_client.post(
        reverse("outreach:touch_create"),
        {"gatekeeper": gatekeeper.pk, "practice": other_practice.pk, "kind": TouchKind.CALL},
    )

    assert response.status_code == 200
    assert "This gatekeeper works at another practice." in response.content.decode()


def test_form_is_prefilled_from_the_link(liaison_client, liaison, summit):
    physician = PhysicianFactory(organization=summit, first_name="Ada", last_name="Quill")
    gatekeeper = GatekeeperFactory(organization=summit)

    response = liaison_client.get(
        reverse("outreach:touch_create"), {"physician": physician.pk, "gatekeeper": gatekeeper.pk}
    )

    form = response.context["form"]
    assert form["physician"].value() == physician.pk
    assert form["gatekeeper"].value() == gatekeeper.pk
    assert form["practice"].value() == gatekeeper.practice_id
    assert form["made_by"].value() == liaison.user.pk
    assert "Ada Quill" in response.content.decode()
    assert TouchKind.SERVICE_ANNOUNCEMENT.value not in dict(form.fields["kind"].choices)


def test_prefill_ignores_another_organizations_ids(liaison_client, harbor):
    physician = PhysicianFactory(organization=harbor, last_name="Foreign")
    practice = PracticeFactory(organization=harbor)

    response = liaison_client.get(
        reverse("outreach:touch_create"), {"physician": physician.pk, "practice": practice.pk}
    )

    assert response.status_code == 200
    assert response.context["form"]["physician"].value() is None
    assert response.context["form"]["practice"].value() is None
    assert "Foreign" not in response.content.decode()


def test_made_by_offers_only_active_members_of_the_organization(
    liaison_client, summit, harbor, member_factory
):
    former = member_factory(summit, Role.LIAISON, is_active=False)
    outsider = member_factory(harbor, Role.LIAISON)

    response = liaison_client.get(reverse("outreach:touch_create"))

    choices = set(response.context["form"].fields["made_by"].queryset)
    assert former.user not in choices
    assert outsider.user not in choices


def test_touch_list_filters_by_kind_person_physician_and_practice(liaison_client, liaison, summit):
    affiliation = AffiliationFactory(organization=summit)
    physician, practice = affiliation.physician, affiliation.practice
    call = TouchFactory(organization=summit, physician=physician, kind=TouchKind.CALL, made_by=liaison.user)
    lunch = TouchFactory(organization=summit, physician=None, practice=practice, kind=TouchKind.LUNCH)
    other = TouchFactory(organization=summit, kind=TouchKind.EMAIL)
    url = reverse("outreach:touch_list")

    def listed(**params):
        return list(liaison_client.get(url, params).context["page"])

    assert listed() == [other, lunch, call]
    assert listed(kind="lunch") == [lunch]
    assert listed(made_by=liaison.user.pk) == [call]
    # A physician's touches include practice-level ones at their primary practice.
    assert listed(physician=physician.pk) == [lunch, call]
    assert listed(practice=practice.pk) == [lunch, call]


def test_touch_list_filters_by_the_organizations_days_and_the_physicians_owner_and_specialty(
    liaison_client, liaison, summit
):
    summit.timezone = "America/Denver"
    summit.save()
    affiliation = AffiliationFactory(
        organization=summit,
        physician__owner=liaison.user,
        physician__taxonomy_code="207X00000X",
    )
    physician, practice = affiliation.physician, affiliation.practice
    utc = datetime.UTC
    # 05:00 UTC on June 30 is still June 29 in Denver.
    late_evening = TouchFactory(
        organization=summit, physician=physician, occurred_at=datetime.datetime(2026, 6, 30, 5, tzinfo=utc)
    )
    morning = TouchFactory(
        organization=summit, physician=physician, occurred_at=datetime.datetime(2026, 6, 30, 15, tzinfo=utc)
    )
    lunch = TouchFactory(
        organization=summit,
        physician=None,
        practice=practice,
        kind=TouchKind.LUNCH,
        occurred_at=datetime.datetime(2026, 6, 29, 18, tzinfo=utc),
    )
    family = TouchFactory(
        organization=summit,
        physician__taxonomy_code="207Q00000X",
        occurred_at=datetime.datetime(2026, 6, 29, 16, tzinfo=utc),
    )
    url = reverse("outreach:touch_list")

    def listed(**params):
        response = liaison_client.get(url, params)
        assert not response.context["form"].errors
        return list(response.context["page"])

    assert listed(since="2026-06-29", until="2026-06-29") == [late_evening, lunch, family]
    assert listed(since="2026-06-30") == [morning]
    assert listed(until="2026-06-29") == [late_evening, lunch, family]
    # Owner and specialty are the physician's: a touch with only a practice has neither.
    assert listed(owner=liaison.user.pk) == [morning, late_evening]
    assert listed(specialty="207Q00000X") == [family]
    # Only the touches naming the physician: the lunch at their primary practice is left out.
    assert listed(physician=physician.pk) == [morning, late_evening, lunch]
    assert listed(physician=physician.pk, named_only="on") == [morning, late_evening]
    page = liaison_client.get(url, {"since": "2026-06-29", "owner": liaison.user.pk}).content.decode()
    assert "Touches from Jun 29, 2026 (the organization's days, America/Denver)." in page
    assert "Touches with a physician only" in page
    assert "Show all" in page


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"since": "2026-06-30", "until": "2026-06-01"}, "To: Choose a day on or after the first one."),
        ({"since": "June 31st"}, "From: Enter a valid date."),
        ({"owner": "front desk"}, "Physician&#x27;s owner: Select a valid choice."),
        ({"specialty": "nonsense"}, "Physician&#x27;s specialty: Select a valid choice."),
    ],
)
def test_touch_list_refuses_bad_days_owners_and_specialties_in_words(
    liaison_client, summit, summit_front_desk, params, error
):
    TouchFactory(organization=summit)
    if params.get("owner"):
        params = {"owner": summit_front_desk.user.pk}  # front desk owns no sources

    response = liaison_client.get(reverse("outreach:touch_list"), params)

    assert response.status_code == 200
    assert list(response.context["page"]) == []
    assert error in response.content.decode()


def test_touch_list_shows_only_the_organizations_touches(liaison_client, harbor):
    TouchFactory(organization=harbor)

    assert list(liaison_client.get(reverse("outreach:touch_list")).context["page"]) == []


def test_touch_list_runs_constant_queries(liaison_client, summit, django_assert_max_num_queries):
    def add_touches(count):
        for _ in range(count):
            gatekeeper = GatekeeperFactory(organization=summit)
            touch = TouchFactory(
                organization=summit,
                practice=gatekeeper.practice,
                gatekeeper=gatekeeper,
                made_by=UserFactory(),
                logged_by=UserFactory(),
            )
            FollowUpFactory(organization=summit, touch=touch)

    url = reverse("outreach:touch_list")
    add_touches(1)
    with django_assert_max_num_queries(8):
        liaison_client.get(url)
    with CaptureQueriesContext(connection) as one_touch:
        liaison_client.get(url)
    add_touches(29)

    with django_assert_max_num_queries(len(one_touch)):
        response = liaison_client.get(url)

    assert len(response.context["page"]) == 25


def test_physician_page_shows_direct_and_practice_level_touches(liaison_client, summit):
    affiliation = AffiliationFactory(organization=summit)
    physician = affiliation.physician
    TouchFactory(organization=summit, physician=physician, kind=TouchKind.CALL, notes="Loves the new gym")
    TouchFactory(organization=summit, physician=None, practice=affiliation.practice, kind=TouchKind.LUNCH)
    TouchFactory(organization=summit, kind=TouchKind.GIFT)  # someone else

    response = liaison_client.get(reverse("physicians:detail", args=[physician.pk]))

    page = response.content.decode()
    assert "Loves the new gym" in page
    assert "Practice-level" in page
    assert "Gift" not in page
    assert f"{reverse('outreach:touch_create')}?physician={physician.pk}" in page
    assert f"{reverse('outreach:touch_list')}?physician={physician.pk}" in page


def test_physician_page_shows_the_ten_latest_touches(liaison_client, summit):
    physician = PhysicianFactory(organization=summit)
    now = timezone.now()
    for days in range(12):
        TouchFactory(
            organization=summit, physician=physician, occurred_at=now - datetime.timedelta(days=days)
        )

    response = liaison_client.get(reverse("physicians:detail", args=[physician.pk]))

    panel = next(p for p in response.context["panels"] if p.template == "outreach/_touch_panel.html")
    assert len(panel.context["touches"]) == 10
    assert panel.context["touches"][0].occurred_at == now


def test_front_desk_sees_no_touch_panel(client, login, summit, member_factory):
    physician = PhysicianFactory(organization=summit)
    TouchFactory(organization=summit, physician=physician)
    login(member_factory(summit, Role.FRONT_DESK))

    response = client.get(reverse("physicians:detail", args=[physician.pk]))

    assert response.status_code == 200
    assert reverse("outreach:touch_create") not in response.content.decode()


def test_physician_page_runs_constant_queries(liaison_client, summit, django_assert_max_num_queries):
    affiliation = AffiliationFactory(organization=summit)
    gatekeeper = GatekeeperFactory(organization=summit, practice=affiliation.practice)

    def add_touches(count):
        for index in range(count):
            TouchFactory(
                organization=summit,
                physician=affiliation.physician if index % 2 else None,
                practice=affiliation.practice,
                gatekeeper=gatekeeper,
            )

    url = reverse("physicians:detail", args=[affiliation.physician_id])
    add_touches(1)
    with CaptureQueriesContext(connection) as one_touch:
        liaison_client.get(url)
    add_touches(29)

    with django_assert_max_num_queries(len(one_touch)):
        response = liaison_client.get(url)

    assert "Practice-level" in response.content.decode()


def test_practice_page_shows_touches_with_the_practice_its_gatekeepers_and_physicians(liaison_client, summit):
    affiliation = AffiliationFactory(organization=summit)
    practice = affiliation.practice
    gatekeeper = GatekeeperFactory(organization=summit, practice=practice, first_name="Tina")
    TouchFactory(organization=summit, physician=None, practice=practice, notes="Office lunch")
    TouchFactory(
        organization=summit, physician=None, practice=practice, gatekeeper=gatekeeper, notes="Tina call"
    )
    TouchFactory(organization=summit, physician=affiliation.physician, notes="Hallway chat")
    elsewhere = PracticeFactory(organization=summit)
    TouchFactory(
        organization=summit, physician=affiliation.physician, practice=elsewhere, notes="Met elsewhere"
    )
    TouchFactory(organization=summit, notes="Someone else")

    response = liaison_client.get(reverse("physicians:practice_detail", args=[practice.pk]))

    page = response.content.decode()
    for note in ("Office lunch", "Tina call", "Hallway chat"):
        assert note in page
    assert "Met elsewhere" not in page
    assert "Someone else" not in page
    assert f"{reverse('outreach:touch_create')}?practice={practice.pk}" in page


def test_practice_page_runs_constant_queries(liaison_client, summit, django_assert_max_num_queries):
    practice = PracticeFactory(organization=summit)
    gatekeeper = GatekeeperFactory(organization=summit, practice=practice)

    def add_touches(count):
        for _ in range(count):
            affiliation = AffiliationFactory(organization=summit, practice=practice)
            TouchFactory(
                organization=summit, physician=affiliation.physician, practice=practice, gatekeeper=gatekeeper
            )

    url = reverse("physicians:practice_detail", args=[practice.pk])
    add_touches(1)
    with CaptureQueriesContext(connection) as one_touch:
        liaison_client.get(url)
    add_touches(29)

    with django_assert_max_num_queries(len(one_touch)):
        response = liaison_client.get(url)

    touch_panel = next(panel for panel in response.context["panels"] if "touches" in panel.context)
    assert len(touch_panel.context["touches"]) == 10


def test_made_by_offers_each_outreach_colleague_once_and_only_while_active_here(
    liaison_client, summit, harbor, member_factory
):
    in_two_organizations = member_factory(summit, Role.THERAPIST)
    member_factory(harbor, Role.LIAISON, user=in_two_organizations.user)
    left_here = member_factory(summit, Role.LIAISON, is_active=False)
    member_factory(harbor, Role.LIAISON, user=left_here.user)
    front_desk = member_factory(summit, Role.FRONT_DESK)
    physician = PhysicianFactory(organization=summit)
    url = reverse("outreach:touch_create")

    choices = list(liaison_client.get(url).context["form"].fields["made_by"].queryset)

    assert choices.count(in_two_organizations.user) == 1
    assert left_here.user not in choices
    assert front_desk.user not in choices
    response = liaison_client.post(
        url, {"physician": physician.pk, "kind": TouchKind.CALL, "made_by": in_two_organizations.user.pk}
    )
    assert response.status_code == 302
    assert Touch.objects.get().made_by == in_two_organizations.user
    for refused in (left_here, front_desk):
        response = liaison_client.post(
            url, {"physician": physician.pk, "kind": TouchKind.CALL, "made_by": refused.user.pk}
        )
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
    assert Touch.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"follow_up_on": "9999-12-31"}, "Choose a date within two years"),
        ({"occurred_at": "0001-01-01T09:00"}, "Choose a date on or after January 1, 2000."),
        ({"occurred_at": "1999-12-31T23:59"}, "Choose a date on or after January 1, 2000."),
    ],
)
def test_dates_out_of_range_are_refused_with_a_message(liaison_client, summit, overrides, message):
    physician = PhysicianFactory(organization=summit)

    response = liaison_client.post(
        reverse("outreach:touch_create"), {"physician": physician.pk, "kind": TouchKind.CALL, **overrides}
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Touch.objects.exists()


def test_a_follow_up_may_be_due_up_to_two_years_ahead(liaison_client, summit):
    physician = PhysicianFactory(organization=summit)
    latest = timezone.localdate() + datetime.timedelta(days=FOLLOW_UP_MAX_DAYS_AHEAD)
    url = reverse("outreach:touch_create")

    refused = liaison_client.post(
        url,
        {
            "physician": physician.pk,
            "kind": TouchKind.CALL,
            "follow_up_on": (latest + datetime.timedelta(days=1)).isoformat(),
        },
    )
    accepted = liaison_client.post(
        url, {"physician": physician.pk, "kind": TouchKind.CALL, "follow_up_on": latest.isoformat()}
    )

    assert refused.status_code == 200
    assert f"by {latest:%b %-d, %Y}" in refused.content.decode()
    assert accepted.status_code == 302
    assert FollowUp.objects.get().due_on == latest


def test_the_service_checks_the_dates_too(summit, member_factory):
    physician = PhysicianFactory(organization=summit)
    user = member_factory(summit, Role.LIAISON).user
    arguments = {
        "organization": summit,
        "made_by": user,
        "logged_by": user,
        "kind": TouchKind.CALL,
        "physician": physician,
    }

    with pytest.raises(ValidationError, match="within two years"):
        touch_log(**arguments, occurred_at=timezone.now(), follow_up_on=datetime.date.max)
    with pytest.raises(ValidationError, match="on or after January 1, 2000"):
        touch_log(**arguments, occurred_at=datetime.datetime(1, 1, 1, tzinfo=datetime.UTC))
    assert not Touch.objects.exists()


def test_a_physician_touch_at_a_practice_they_do_not_work_at_is_refused(liaison_client, summit):
    physician = PhysicianFactory(organization=summit, first_name="Ada", last_name="Quill", credential="MD")
    AffiliationFactory(organization=summit, physician=physician)
    part_time = AffiliationFactory(organization=summit, physician=physician, is_primary=False).practice
    unrelated = PracticeFactory(organization=summit)
    url = reverse("outreach:touch_create")

    refused = liaison_client.post(
        url, {"physician": physician.pk, "practice": unrelated.pk, "kind": TouchKind.OFFICE_VISIT}
    )
    accepted = liaison_client.post(
        url, {"physician": physician.pk, "practice": part_time.pk, "kind": TouchKind.OFFICE_VISIT}
    )

    assert refused.status_code == 200
    assert (
        "Ada Quill, MD does not work at this practice; choose one of their practices "
        "or leave the practice empty." in refused.content.decode()
    )
    assert accepted.status_code == 302
    assert Touch.objects.get().practice == part_time


def test_a_physician_with_a_gatekeeper_of_another_practice_is_refused(liaison_client, summit):
    physician = AffiliationFactory(organization=summit).physician
    gatekeeper = GatekeeperFactory(organization=summit, first_name="Tina")

    response = liaison_client.post(
        reverse("outreach:touch_create"),
        {"physician": physician.pk, "gatekeeper": gatekeeper.pk, "kind": TouchKind.CALL},
    )

    assert response.status_code == 200
    assert f"{physician} does not work at Tina" in response.content.decode()
    assert not Touch.objects.exists()
    with pytest.raises(ValidationError, match="does not work at this practice"):
        Touch(
            organization=summit,
            physician=physician,
            practice=PracticeFactory(organization=summit),
            kind="call",
        ).clean()


def test_the_practice_picker_lists_the_physicians_practices_first(liaison_client, summit):
    affiliation = AffiliationFactory(organization=summit)
    physician = affiliation.physician
    PracticeFactory(organization=summit, name="AAA Elsewhere")
    PracticeFactory(organization=summit, name="Closed Office", is_active=False)

    response = liaison_client.get(reverse("outreach:touch_create"), {"physician": physician.pk})

    choices = response.context["form"].fields["practice"].choices
    assert choices[0] == ("", "—")
    assert choices[1] == (
        f"{physician.display_name}’s practices",
        [(affiliation.practice.pk, affiliation.practice.name)],
    )
    other_label, others = choices[2]
    assert other_label == "Other practices"
    assert [name for _, name in others] == ["AAA Elsewhere"]


def test_without_javascript_a_typed_name_or_npi_chooses_the_physician(liaison_client, summit, harbor):
    ada = PhysicianFactory(organization=summit, first_name="Ada", last_name="Quill", credential="MD")
    PhysicianFactory(organization=harbor, first_name="Ada", last_name="Quill", credential="MD")
    url = reverse("outreach:touch_create")

    for typed in ("Ada Quill", "  quill, ada ", "Ada Quill, MD", ada.npi):
        response = liaison_client.post(url, {"physician": "", "q": typed, "kind": TouchKind.CALL})
        assert response.status_code == 302, typed

    assert [touch.physician for touch in Touch.objects.all()] == [ada] * 4


def test_without_javascript_the_typed_text_wins_over_a_prefilled_physician(liaison_client, summit):
    prefilled = PhysicianFactory(organization=summit, first_name="Ada", last_name="Quill")
    typed = PhysicianFactory(organization=summit, first_name="Bea", last_name="Rowe")
    practice = PracticeFactory(organization=summit)
    url = reverse("outreach:touch_create")

    liaison_client.post(url, {"physician": prefilled.pk, "q": "Bea Rowe", "kind": TouchKind.CALL})
    # Clearing the box without JavaScript leaves the hidden id: the empty box means no physician.
    liaison_client.post(url, {"physician": prefilled.pk, "q": "", "practice": practice.pk, "kind": "lunch"})

    first, second = Touch.objects.order_by("pk")
    assert first.physician == typed
    assert (second.physician, second.practice) == (None, practice)


def test_a_physician_chosen_in_the_typeahead_is_kept_when_names_are_shared(liaison_client, summit):
    PhysicianFactory(organization=summit, first_name="John", last_name="Smith", credential="MD")
    chosen = PhysicianFactory(organization=summit, first_name="John", last_name="Smith", credential="MD")

    liaison_client.post(
        reverse("outreach:touch_create"),
        {"physician": chosen.pk, "q": chosen.display_name, "kind": TouchKind.CALL},
    )

    assert Touch.objects.get().physician == chosen


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("John Smith", "2 physicians are called “John Smith”: type the NPI of the one you mean."),
        ("Nobody Atall", "No physician in your directory is called “Nobody Atall”"),
        ("Foreign Doctor", "No physician in your directory is called “Foreign Doctor”"),
        # A surname alone suggests who it may mean, and picks nobody: a namesake may be new.
        ("Smith", "No physician in your directory is called “Smith”. Did you mean John Smith"),
        # Another organization's physicians are never suggested.
        ("Doctor", "No physician in your directory is called “Doctor”: type their full name or their NPI."),
    ],
)
def test_a_typed_name_that_names_no_one_or_several_is_an_error(
    liaison_client, summit, harbor, typed, message
):
    PhysicianFactory(organization=summit, first_name="John", last_name="Smith")
    PhysicianFactory(organization=summit, first_name="John", last_name="Smith")
    PhysicianFactory(organization=harbor, first_name="Foreign", last_name="Doctor")

    response = liaison_client.post(
        reverse("outreach:touch_create"), {"physician": "", "q": typed, "kind": TouchKind.CALL}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    assert f'value="{typed}"' in page
    assert not Touch.objects.exists()


def test_touch_list_resolves_a_typed_physician_and_ignores_an_empty_box(liaison_client, summit):
    ada = PhysicianFactory(organization=summit, first_name="Ada", last_name="Quill")
    mine = TouchFactory(organization=summit, physician=ada)
    other = TouchFactory(organization=summit)
    url = reverse("outreach:touch_list")

    typed = liaison_client.get(url, {"q": "Ada Quill", "physician": ""})
    cleared = liaison_client.get(url, {"q": "", "physician": ada.pk})

    assert list(typed.context["page"]) == [mine]
    # Resolved: the next submit carries the physician's id and name, as if chosen with JavaScript.
    assert f'name="physician" value="{ada.pk}"' in typed.content.decode()
    assert 'value="Ada Quill, MD"' in typed.content.decode()
    assert list(cleared.context["page"]) == [other, mine]


@pytest.mark.parametrize("params", ["foreign", {"physician": "abc"}, {"q": "Nobody Atall", "physician": ""}])
def test_touch_list_with_an_invalid_physician_shows_the_error_and_no_touches(
    liaison_client, summit, harbor, params
):
    TouchFactory(organization=summit)
    foreign = TouchFactory(organization=harbor, notes="Harbor's private note")
    if params == "foreign":
        params = {"physician": foreign.physician_id}

    response = liaison_client.get(reverse("outreach:touch_list"), params)

    assert response.status_code == 200
    assert list(response.context["page"]) == []
    page = response.content.decode()
    assert "Physician: " in page
    assert "No touches are shown until the filters are fixed." in page
    assert "Harbor" not in page


# Removing a touch logged by mistake.


def remove(http_client, touch):
    return http_client.post(reverse("outreach:touch_remove", args=[touch.pk]), {"next": "/outreach/touches/"})


def test_the_maker_removes_a_mistaken_touch_and_the_source_is_flagged_again(
    liaison_client, summit, liaison, django_capture_on_commit_callbacks
):
    physician = PhysicianFactory(organization=summit, stage=Stage.MAINTAINING)
    Physician.objects.filter(pk=physician.pk).update(created_at=timezone.now() - datetime.timedelta(days=200))
    with django_capture_on_commit_callbacks(execute=True):
        touch = touch_log(
            organization=summit,
            made_by=liaison.user,
            logged_by=liaison.user,
            kind=TouchKind.CALL,
            occurred_at=timezone.now(),
            physician=physician,
            follow_up_on=timezone.localdate() + datetime.timedelta(days=3),
        )
    assert not Flag.objects.filter(physician=physician, closed_at__isnull=True).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = remove(liaison_client, touch)

    assert response.status_code == 302
    assert not Touch.objects.filter(pk=touch.pk).exists()
    assert not FollowUp.objects.exists()
    assert Flag.objects.filter(physician=physician, closed_at__isnull=True).exists()


def test_a_colleague_may_not_remove_someone_elses_touch_but_an_admin_may(
    client, login, summit, liaison, member_factory
):
    touch = TouchFactory(organization=summit, made_by=liaison.user)

    remove(login(member_factory(summit, Role.THERAPIST)), touch)
    assert Touch.objects.filter(pk=touch.pk).exists()

    remove(login(member_factory(summit, Role.ADMIN)), touch)
    assert not Touch.objects.filter(pk=touch.pk).exists()


def test_an_announcements_touches_stay(client, login, summit, member_factory):
    admin = member_factory(summit, Role.ADMIN)
    touch = TouchFactory(
        organization=summit,
        made_by=admin.user,
        kind=TouchKind.SERVICE_ANNOUNCEMENT,
    )

    response = remove(login(admin), touch)

    assert Touch.objects.filter(pk=touch.pk).exists()
    assert "record emails that were sent" in response.wsgi_request._messages._queued_messages[0].message


# Who logged a touch, when it was logged on someone else's behalf.


def test_a_broadcast_logs_one_touch_per_physician_in_a_fixed_number_of_queries(summit, liaison):
    def broadcast(count):
        physicians = [PhysicianFactory(organization=summit) for _ in range(count)]
        with CaptureQueriesContext(connection) as captured:
            touches = touch_log_broadcast(
                organization=summit,
                user=liaison.user,
                kind=TouchKind.SERVICE_ANNOUNCEMENT,
                occurred_at=timezone.now(),
                physicians=physicians,
                notes="New: vestibular rehab",
            )
        assert [touch.physician for touch in touches] == physicians
        assert all(touch.pk for touch in touches)
        return len(captured)

    assert broadcast(1) == broadcast(30)
    assert set(Touch.objects.values_list("kind", "made_by", "logged_by", "notes")) == {
        (TouchKind.SERVICE_ANNOUNCEMENT, liaison.user.pk, liaison.user.pk, "New: vestibular rehab")
    }


@pytest.mark.parametrize("foreign", [False, True])
def test_a_broadcast_refuses_a_kind_that_counts_as_contact_or_another_organizations_physician(
    summit, harbor, liaison, foreign
):
    physician = PhysicianFactory(organization=harbor if foreign else summit)

    with pytest.raises(ValueError, match="organization" if foreign else "counts as contact"):
        touch_log_broadcast(
            organization=summit,
            user=liaison.user,
            kind=TouchKind.SERVICE_ANNOUNCEMENT if foreign else TouchKind.CALL,
            occurred_at=timezone.now(),
            physicians=[physician],
        )

    assert not Touch.objects.exists()


def test_a_touch_logged_for_a_colleague_records_and_shows_who_logged_it(
    liaison_client, liaison, summit, member_factory
):
    liaison.user.first_name, liaison.user.last_name = "Ben", "Ode"
    liaison.user.save()
    colleague = member_factory(summit, Role.THERAPIST, user__first_name="Ana", user__last_name="Ruiz")
    physician = PhysicianFactory(organization=summit)

    liaison_client.post(
        reverse("outreach:touch_create"),
        {"physician": physician.pk, "kind": TouchKind.IN_SERVICE, "made_by": colleague.user.pk},
    )

    touch = Touch.objects.get()
    assert (touch.made_by, touch.logged_by) == (colleague.user, liaison.user)
    who = 'Ana Ruiz <span class="text-body-secondary">(logged by Ben Ode)</span>'
    assert who in liaison_client.get(reverse("outreach:touch_list")).content.decode()
    assert who in liaison_client.get(reverse("physicians:detail", args=[physician.pk])).content.decode()


def test_a_touch_logged_by_its_maker_names_them_once(liaison_client, liaison, summit):
    physician = PhysicianFactory(organization=summit)

    liaison_client.post(reverse("outreach:touch_create"), {"physician": physician.pk, "kind": TouchKind.CALL})

    assert Touch.objects.get().logged_by == liaison.user
    assert "logged by" not in liaison_client.get(reverse("outreach:touch_list")).content.decode()


def test_whoever_logged_a_touch_may_remove_it_and_a_bystander_may_not(client, login, summit, member_factory):
    maker, logger, bystander = (member_factory(summit, Role.THERAPIST) for _ in range(3))
    touch = TouchFactory(organization=summit, made_by=maker.user, logged_by=logger.user)

    assert "Remove this touch" not in login(bystander).get(reverse("outreach:touch_list")).content.decode()
    remove(login(bystander), touch)
    assert Touch.objects.filter(pk=touch.pk).exists()

    assert "Remove this touch" in login(logger).get(reverse("outreach:touch_list")).content.decode()
    remove(login(logger), touch)
    assert not Touch.objects.filter(pk=touch.pk).exists()


def test_touches_from_before_logged_by_was_kept_count_as_logged_by_their_maker(summit, liaison):
    touch = TouchFactory(organization=summit, made_by=liaison.user, logged_by=None)
    unknown = TouchFactory(organization=summit, made_by=None, logged_by=None)

    migration = importlib.import_module("outreach.migrations.0002_touch_logged_by")
    migration.logged_by_their_maker(django_apps, None)

    touch.refresh_from_db()
    unknown.refresh_from_db()
    assert (touch.logged_by, unknown.logged_by) == (liaison.user, None)
