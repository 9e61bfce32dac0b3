from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from clinics.models import Role
from physicians.models import Physician
from referrals.models import Referral, Status
from referrals.selectors import referral_settings_get
from tests.audit.queries import access_event_queries

from ..factories import ClinicFactory, PhysicianFactory, ReferralFactory
from .intake import details_data, intake_data


def test_intake_logs_a_referral_and_returns_a_fresh_form(desk, summit):
    physician = PhysicianFactory(organization=summit)

    response = desk.post(reverse("referrals:intake"), intake_data(desk.clinic, physician), follow=True)

    referral = Referral.objects.get()
    assert referral.physician == physician
    assert referral.diagnosis_codes == ["M54.50", "M17.11"]
    assert (
        timezone.localtime(
            referral.received_at,
            timezone=referral.clinic.timezone and __import__("zoneinfo").ZoneInfo("America/Denver"),
        ).hour
        == 9
    )
    assert f"Referral #{referral.number} logged" in response.content.decode()
    assert response.context["form"]["patient_last_name"].value() in (None, "")
    assert "Example" not in response.redirect_chain[-1][0]


def test_intake_adds_an_unknown_physician_inline(desk, summit):
    data = intake_data(
        desk.clinic,
        new_physician_first_name="Nia",
        new_physician_last_name="Okoro",
        new_physician_npi="1234567893",
    )

    desk.post(reverse("referrals:intake"), data)

    physician = Physician.objects.get(organization=summit, npi="1234567893")
    assert Referral.objects.get().physician == physician


def test_intake_explains_bad_input_and_saves_nothing(desk, summit):
    data = intake_data(
        desk.clinic,
        diagnosis_codes="M54.50, 12345",
        new_physician_first_name="Nia",
        new_physician_last_name="Okoro",
        new_physician_npi="1234567890",
    )

    response = desk.post(reverse("referrals:intake"), data)

    errors = response.context["form"].errors
    assert "“12345” is not an ICD-10-CM code (e.g. M54.50)." in errors["diagnosis_codes"]
    assert "check digit" in " ".join(errors["new_physician_npi"])
    assert not Referral.objects.exists()
    assert not Physician.objects.exists()


def test_intake_warns_about_the_same_patient_within_30_days(desk, summit):
    physician = PhysicianFactory(organization=summit)
    ReferralFactory(
        organization=summit,
        clinic=desk.clinic,
        physician=physician,
        patient_last_name="Example",
        patient_birth_date=date(1970, 5, 1),
        received_at=timezone.now() - timedelta(days=10),
    )
    data = intake_data(desk.clinic, physician, received_at=timezone.localtime().strftime("%Y-%m-%dT%H:%M"))

    warned = desk.post(reverse("referrals:intake"), data)
    assert "This patient was referred on" in warned.content.decode()
    assert Referral.objects.count() == 1

    desk.post(reverse("referrals:intake"), {**data, "confirm_duplicate": "on"})
    assert Referral.objects.count() == 2


def test_stale_edit_is_refused_and_the_input_comes_back(client, summit, member_factory):
    referral = ReferralFactory(organization=summit)
    client.force_login(member_factory(summit, Role.THERAPIST).user)
    form = details_data(referral, notes="Mine")
    Referral.objects.filter(pk=referral.pk).update(notes="Theirs", version=referral.version + 1)

    response = client.post(reverse("referrals:detail", args=[referral.pk]), form)

    assert "Someone else changed this referral" in response.content.decode()
    assert response.context["form"]["notes"].value() == "Mine"
    assert Referral.objects.get(pk=referral.pk).notes == "Theirs"


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.ADMIN])
def test_nobody_types_visits_or_revenue_on_the_referral_form(client, summit, member_factory, role):
    referral = ReferralFactory(organization=summit)
    client.force_login(member_factory(summit, role).user)
    form = details_data(referral, notes="Prefers mornings", billed_amount=999)

    client.post(reverse("referrals:detail", args=[referral.pk]), form)

    saved = Referral.objects.get(pk=referral.pk)
    assert (saved.notes, saved.billed_amount) == ("Prefers mornings", 0)
    page = client.get(reverse("referrals:detail", args=[referral.pk]))
    assert "billed_amount" not in page.context["form"].fields


def test_transition_button_moves_the_referral_and_refuses_illegal_moves(desk, summit):
    referral = ReferralFactory(organization=summit)
    url = reverse("referrals:transition", args=[referral.pk])

    desk.post(url, {"to_status": "contacted", "version": referral.version})
    assert Referral.objects.get(pk=referral.pk).status == Status.CONTACTED

    response = desk.post(url, {"to_status": "discharged"}, follow=True)
    assert "cannot become discharged" in response.content.decode()


@pytest.mark.parametrize("url_name", ["referrals:list", "referrals:queues"])
def test_referral_pages_run_constant_queries(desk, summit, url_name, django_assert_max_num_queries):
    for _ in range(30):
        ReferralFactory(organization=summit, clinic=desk.clinic)

    with django_assert_max_num_queries(12 + access_event_queries()):
        response = desk.get(reverse(url_name))

    assert response.status_code == 200


def test_patient_names_stay_out_of_urls(desk, summit):
    referral = ReferralFactory(organization=summit, patient_last_name="Zebrowski")
    page = desk.get(reverse("referrals:list")).content.decode()

    assert reverse("referrals:detail", args=[referral.pk]) in page
    assert "Zebrowski" not in "".join(part for part in page.split('"') if part.startswith("/"))


def test_physician_page_shows_referral_volume_conversion_and_recent_referrals(
    client, summit, member_factory, django_assert_max_num_queries
):
    physician = PhysicianFactory(organization=summit)
    for days in (5, 40, 100):
        ReferralFactory(
            organization=summit, physician=physician, received_at=timezone.now() - timedelta(days=days)
        )
    ReferralFactory(organization=summit, physician=physician, status=Status.EVALUATED)
    client.force_login(member_factory(summit, Role.LIAISON).user)

    # 22, and the History (the physician's rows, their touches'), and the
    # creation row of the outreach settings this first page makes.
    with django_assert_max_num_queries(25 + access_event_queries()):
        response = client.get(reverse("physicians:detail", args=[physician.pk]))

    page = response.content.decode()
    assert "referrals, last 90 days" in page
    assert "25 %" in page  # 1 evaluated of 4 referred
    assert page.count('href="/referrals/') >= 4


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "lost"}, {"Lost"}),
        ({"source": "direct_access"}, {"Direct"}),
        ({"received_from": "2026-11-01", "received_to": "2026-11-10"}, {"Early"}),
    ],
)
def test_referral_list_filters(desk, summit, params, expected):
    ReferralFactory(
        organization=summit, patient_first_name="Lost", status=Status.LOST, loss_reason="declined"
    )
    ReferralFactory(
        organization=summit, patient_first_name="Direct", source_type="direct_access", physician=None
    )
    ReferralFactory(
        organization=summit,
        patient_first_name="Early",
        received_at=datetime(2026, 11, 5, 19, tzinfo=UTC),
    )

    response = desk.get(reverse("referrals:list"), params)

    assert {r.patient_first_name for r in response.context["page"]} == expected


def test_referral_list_filters_by_physician_clinic_and_payer(desk, summit):
    mine = ReferralFactory(organization=summit, clinic=desk.clinic)
    ReferralFactory(organization=summit)

    for params in ({"physician": mine.physician_id}, {"clinic": desk.clinic.pk}):
        response = desk.get(reverse("referrals:list"), params)
        assert list(response.context["page"]) == [mine]


def test_status_tabs_count_what_their_links_open_under_the_other_filters(desk, summit):
    """A tab keeps the other filters in its link, so its count must too: "Received 2" opens two rows."""
    other_clinic = ClinicFactory(organization=summit)
    for status in (Status.RECEIVED, Status.RECEIVED, Status.CONTACTED):
        ReferralFactory(organization=summit, clinic=desk.clinic, status=status)
    ReferralFactory.create_batch(3, organization=summit, clinic=other_clinic, status=Status.RECEIVED)

    response = desk.get(reverse("referrals:list"), {"clinic": desk.clinic.pk, "status": "contacted"})

    tabs = {value: count for value, _label, count in response.context["statuses"]}
    assert tabs[Status.RECEIVED] == 2
    assert tabs[Status.CONTACTED] == 1
    assert tabs[Status.LOST] == 0
    for value, count in tabs.items():
        opened = desk.get(reverse("referrals:list"), {"clinic": desk.clinic.pk, "status": value})
        assert opened.context["page"].paginator.count == count
    unfiltered = desk.get(reverse("referrals:list"))
    assert {v: c for v, _l, c in unfiltered.context["statuses"]}[Status.RECEIVED] == 5


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "—"),
        (timedelta(minutes=15), "15 min"),
        (timedelta(hours=5, minutes=20), "5 h 20 min"),
        (timedelta(days=2, hours=3), "2 days 3 h"),
        (timedelta(days=1), "1 day"),
    ],
)
def test_elapsed_times_read_the_way_the_desk_says_them(value, expected):
    from referrals.templatetags.referrals import elapsed

    assert elapsed(value) == expected


def test_pages_show_times_in_the_users_clinic_time_zone(client, harbor, member_factory):
    boston = ClinicFactory(organization=harbor, timezone="America/New_York")
    referral = ReferralFactory(
        organization=harbor, clinic=boston, received_at=datetime(2026, 11, 24, 14, tzinfo=UTC)
    )
    client.force_login(member_factory(harbor, Role.FRONT_DESK, home_clinic=boston).user)

    page = client.get(reverse("referrals:detail", args=[referral.pk])).content.decode()

    assert "Nov 24, 2026 09:00" in page


def test_board_shows_open_referrals_by_step_with_constant_queries(
    desk, summit, django_assert_max_num_queries
):
    for status in (Status.RECEIVED, Status.SCHEDULED, Status.SCHEDULED, Status.DISCHARGED):
        for _ in range(10):
            ReferralFactory(organization=summit, status=status)

    with django_assert_max_num_queries(12 + access_event_queries()):
        response = desk.get(reverse("referrals:board"))

    columns = {status.value: (count, len(cards)) for status, count, cards in response.context["columns"]}
    assert columns["received"] == (10, 10)
    assert columns["scheduled"] == (20, 20)
    assert "discharged" not in columns


def test_admin_changes_the_organizations_deadlines(admin_client, summit):
    data = {
        "organization-name": summit.name,
        "referrals-contact_sla_business_days": 2,
        "referrals-unreachable_after_attempts": 4,
        "referrals-patient_details_retention_years": 7,
        "referrals-poc_signature_days": 45,
        "referrals-poc_certification_days": 60,
        "outreach-cadence_tier_a_days": 14,
        "outreach-cadence_tier_b_days": 30,
        "outreach-cadence_tier_c_days": 60,
        "letters-loop_days": 7,
        "letters-link_valid_days": 30,
        "audit-retention_years": 6,
    }

    admin_client.post(reverse("clinics:organization_settings"), data)
    refused = admin_client.post(
        reverse("clinics:organization_settings"), {**data, "referrals-poc_signature_days": 0}
    )

    rules = referral_settings_get(organization=summit)
    assert (rules.contact_sla_business_days, rules.poc_signature_days, rules.poc_certification_days) == (
        2,
        45,
        60,
    )
    assert rules.unreachable_after_attempts == 4
    refused_forms = {section.key: form for section, form in refused.context["sections"]}
    assert "poc_signature_days" in refused_forms["referrals"].errors
