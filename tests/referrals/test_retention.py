"""Retention: patient details removed past the organization's period, the referral and its figures kept."""

import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.urls import reverse

from clinics.models import Role
from letters.models import Letter
from outbox.models import EmailStatus, OutboundEmail
from outcomes.models import NpsResponse
from referrals.models import (
    PATIENT_DETAILS_REMOVED,
    ContactAttempt,
    ContactOutcome,
    PatientDetailsRemoval,
    Referral,
    ReferralDocument,
    Status,
    StatusChange,
)
from referrals.retention.selectors import referrals_past_retention, retention_closed_before
from referrals.retention.services import patient_details_remove, patient_details_remove_everywhere
from referrals.selectors import referral_settings_get

from ..audit.queries import access_event_queries
from ..factories import PaymentFactory, ReferralDocumentFactory, ReferralFactory, VisitFactory
from ..letters.factories import LetterFactory
from ..outcomes.factories import NpsResponseFactory

DENVER = ZoneInfo("America/Denver")
NOW = datetime.datetime(2026, 6, 15, 18, 0, tzinfo=DENVER)


@pytest.fixture(autouse=True)
def _pinned_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def closed(organization, *, on: datetime.datetime, status: str = Status.DISCHARGED, **fields) -> Referral:
    """A referral that moved to `status` at `on`."""
    referral: Referral = ReferralFactory.create(
        organization=organization,
        status=status,
        loss_reason="declined" if status == Status.LOST else "",
        received_at=on - datetime.timedelta(days=60),
        patient_email="pat@example.com",
        patient_account_number="MRN-1",
        notes="Prefers mornings.",
        **fields,
    )
    StatusChange.objects.create(
        organization=organization,
        referral=referral,
        from_status=Status.IN_CARE,
        to_status=status,
        changed_at=on,
    )
    return referral


def years_ago(years: int, **delta) -> datetime.datetime:
    return NOW.replace(year=NOW.year - years) + datetime.timedelta(**delta)


def due(organization) -> list[Referral]:
    rules = referral_settings_get(organization=organization)
    return list(referrals_past_retention(organization=organization, rules=rules))


def test_referrals_closed_before_the_period_are_due_and_nothing_else(summit):
    old_discharge = closed(summit, on=years_ago(7, days=-1))
    old_loss = closed(summit, on=years_ago(9), status=Status.LOST)
    closed(summit, on=years_ago(7, days=1))  # closed on the first day still kept
    ReferralFactory(organization=summit, status=Status.IN_CARE, received_at=years_ago(10))  # never closed

    assert due(summit) == [old_loss, old_discharge]


def test_the_last_closing_counts_when_a_lost_referral_came_back(summit):
    referral = closed(summit, on=years_ago(9), status=Status.LOST)
    StatusChange.objects.create(
        organization=summit,
        referral=referral,
        from_status=Status.IN_CARE,
        to_status="discharged",
        changed_at=years_ago(2),
    )
    Referral.objects.filter(pk=referral.pk).update(status=Status.DISCHARGED, loss_reason="")

    assert due(summit) == []


def test_the_period_is_the_organizations_setting_counted_in_its_zone(summit):
    rules = referral_settings_get(organization=summit)
    rules.patient_details_retention_years = 2
    rules.save()
    # 00:30 on June 15, 2024 in Denver is June 15 at 06:30 UTC: the first day kept.
    kept = closed(summit, on=datetime.datetime(2024, 6, 15, 0, 30, tzinfo=DENVER))
    gone = closed(summit, on=datetime.datetime(2024, 6, 14, 23, 30, tzinfo=DENVER))

    assert retention_closed_before(organization=summit, rules=rules, now=NOW) == datetime.date(2024, 6, 15)
    assert due(summit) == [gone]
    assert kept not in due(summit)


def test_a_leap_day_goes_back_to_the_28th(summit):
    rules = referral_settings_get(organization=summit)
    leap = datetime.datetime(2028, 2, 29, 12, tzinfo=DENVER)

    assert retention_closed_before(organization=summit, rules=rules, now=leap) == datetime.date(2021, 2, 28)


def test_removal_blanks_the_identifiers_and_keeps_the_referral_and_its_figures(
    summit, media, django_capture_on_commit_callbacks
):
    referral = closed(summit, on=years_ago(8))
    VisitFactory(organization=summit, referral=referral, billed_amount=150)
    PaymentFactory(organization=summit, referral=referral, amount=90)
    Referral.objects.filter(pk=referral.pk).update(visits_attended=1, billed_amount=150, collected_amount=90)
    ContactAttempt.objects.create(
        organization=summit,
        referral=referral,
        outcome=ContactOutcome.REACHED,
        note="Call her daughter Ann",
        attempted_at=years_ago(8, days=-50),
    )
    document = ReferralDocumentFactory(organization=summit, referral=referral)
    stored = document.file.name
    before = Referral.objects.values(
        "number",
        "received_at",
        "status",
        "physician",
        "payer",
        "clinic",
        "visits_attended",
        "billed_amount",
        "collected_amount",
    ).get(pk=referral.pk)

    with django_capture_on_commit_callbacks(execute=True):
        runs = patient_details_remove(organization=summit)

    referral.refresh_from_db()
    assert (
        referral.patient_first_name,
        referral.patient_last_name,
        referral.patient_birth_date,
        referral.patient_phone,
        referral.patient_email,
        referral.patient_account_number,
        referral.notes,
    ) == ("", "", None, "", "", "", "")
    assert referral.patient_details_removed_at == NOW
    assert referral.patient_full_name == referral.patient_short_name == PATIENT_DETAILS_REMOVED
    assert Referral.objects.values(*before).get(pk=referral.pk) == before
    assert ContactAttempt.objects.get(referral=referral).note == ""
    assert not ReferralDocument.objects.filter(referral=referral).exists()
    assert not default_storage.exists(stored)
    [run] = runs
    assert (run.referral_ids, run.documents_removed, run.removed_by) == ([referral.pk], 1, None)
    assert run.closed_before == datetime.date(2019, 6, 15)


def test_higher_apps_erase_their_copies_letters_nps_and_the_survey_email(summit):
    referral = closed(summit, on=years_ago(8))
    letter = LetterFactory(organization=summit, referral=referral)
    NpsResponseFactory(organization=summit, referral=referral, score=9, comment="Ann was wonderful")
    email = OutboundEmail.objects.create(
        organization=summit,
        kind="nps_survey",
        idempotency_key=f"nps-survey:{summit.pk}:{referral.pk}",
        to_address="pat@example.com",
        subject="How did we do?",
        body_text="Your link",
        status=EmailStatus.SENT,
    )

    patient_details_remove(organization=summit)

    letter.refresh_from_db()
    assert letter.content["patient"]["name"] == PATIENT_DETAILS_REMOVED
    assert letter.content["patient"]["birth_date"] == letter.content["patient"]["initials"] == ""
    assert letter.content["patient"]["number"] == referral.number
    answer = NpsResponse.objects.get(referral=referral)
    assert (answer.score, answer.comment) == (9, "")
    email.refresh_from_db()
    assert (email.to_address, email.body_text, email.subject, email.status) == (
        "",
        "",
        "How did we do?",
        EmailStatus.SENT,
    )
    assert Letter.objects.filter(pk=letter.pk).exists()


def test_a_second_run_removes_nothing_more_and_records_nothing(summit):
    closed(summit, on=years_ago(8))

    first = patient_details_remove_everywhere()
    second = patient_details_remove_everywhere()

    assert (first, second) == (1, 0)
    assert PatientDetailsRemoval.objects.count() == 1


def test_another_organizations_referrals_keep_their_details(summit, harbor):
    ours = closed(summit, on=years_ago(8))
    theirs = closed(harbor, on=years_ago(8))
    rules = referral_settings_get(organization=harbor)
    rules.patient_details_retention_years = 10
    rules.save()

    patient_details_remove_everywhere()

    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert ours.patient_details_removed_at is not None
    assert theirs.patient_details_removed_at is None
    assert theirs.patient_last_name


def test_the_dry_run_lists_numbers_and_changes_nothing(summit):
    referral = closed(summit, on=years_ago(8))
    out = StringIO()

    call_command("remove_patient_details", "--dry-run", stdout=out)

    assert f"#{referral.number}" in out.getvalue()
    assert referral.patient_last_name not in out.getvalue()
    assert Referral.objects.get(pk=referral.pk).patient_details_removed_at is None
    assert not PatientDetailsRemoval.objects.exists()

    call_command("remove_patient_details", "--organization", summit.slug, stdout=StringIO())

    assert Referral.objects.get(pk=referral.pk).patient_details_removed_at is not None


def test_an_unknown_organization_is_a_clear_error(db):
    with pytest.raises(CommandError, match="No organization"):
        call_command("remove_patient_details", "--organization", "nowhere")


def test_the_page_shows_the_next_run_and_past_runs_in_constant_queries(
    summit, admin_client, django_assert_max_num_queries
):
    closed(summit, on=years_ago(8))
    url = reverse("referrals:retention")
    with django_assert_max_num_queries(12 + access_event_queries()) as few:
        admin_client.get(url)
    for _ in range(30):
        closed(summit, on=years_ago(8))
    patient_details_remove(organization=summit)
    for _ in range(5):
        closed(summit, on=years_ago(9))

    with django_assert_max_num_queries(len(few.captured_queries)):
        page = admin_client.get(url)

    assert page.status_code == 200
    assert page.context["due_count"] == 5
    assert "Nightly job" in page.content.decode()


def test_only_admins_see_the_retention_page(summit, member_factory, client):
    therapist = member_factory(summit, Role.THERAPIST)
    client.force_login(therapist.user)

    assert client.get(reverse("referrals:retention")).status_code == 403


def test_a_removed_referral_says_so_and_can_be_neither_edited_nor_reopened(summit, admin_client):
    referral = closed(summit, on=years_ago(8), status=Status.LOST)
    patient_details_remove(organization=summit)
    referral.refresh_from_db()

    page = admin_client.get(reverse("referrals:detail", args=[referral.pk])).content.decode()
    reopened = admin_client.post(
        reverse("referrals:transition", args=[referral.pk]),
        {"to_status": "received", "version": referral.version},
        follow=True,
    )

    assert "details were removed on Jun 15, 2026" in page
    assert "Save changes" not in page
    assert "kept as a record" in reopened.content.decode()
    assert Referral.objects.get(pk=referral.pk).status == Status.LOST
