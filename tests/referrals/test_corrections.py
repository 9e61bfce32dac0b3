"""The patient's name, date of birth and phone corrected after intake: recorded, never logged."""

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from clinics.models import Role
from referrals.models import PatientCorrection, Referral

from ..factories import ClinicFactory, ReferralFactory
from .intake import details_data


@pytest.fixture
def referral(summit):
    return ReferralFactory(
        organization=summit,
        patient_first_name="Pat",
        patient_last_name="Exmaple",
        patient_birth_date=date(1970, 5, 1),
        patient_phone="303-555-0100",
    )


def test_a_correction_is_saved_and_recorded_without_the_values(desk, referral, caplog):
    caplog.set_level(logging.DEBUG)
    data = details_data(
        referral, patient_last_name="Example", patient_birth_date="05/10/1970", patient_phone="303-555-0199"
    )

    response = desk.post(reverse("referrals:detail", args=[referral.pk]), data, follow=True)

    saved = Referral.objects.get(pk=referral.pk)
    assert (saved.patient_last_name, saved.patient_birth_date, saved.patient_phone) == (
        "Example",
        date(1970, 5, 10),
        "303-555-0199",
    )
    assert saved.version == referral.version + 1
    correction = PatientCorrection.objects.get(referral=referral)
    assert correction.fields == ["patient_last_name", "patient_birth_date", "patient_phone"]
    assert (correction.corrected_by, correction.organization_id) == (desk.user, referral.organization_id)
    assert "Corrected the patient last name, date of birth, patient phone" in response.content.decode()
    for value in ("Exmaple", "Example", "1970", "0100", "0199"):
        assert value not in caplog.text


def test_saving_other_details_records_no_correction(desk, referral):
    data = details_data(referral, notes="Prefers mornings")

    desk.post(reverse("referrals:detail", args=[referral.pk]), data)

    assert Referral.objects.get(pk=referral.pk).notes == "Prefers mornings"
    assert not PatientCorrection.objects.exists()


def test_a_correction_on_a_stale_copy_is_refused_and_not_recorded(desk, referral):
    data = details_data(referral, patient_phone="303-555-0199")
    Referral.objects.filter(pk=referral.pk).update(notes="Theirs", version=referral.version + 1)

    response = desk.post(reverse("referrals:detail", args=[referral.pk]), data)

    assert "Someone else changed this referral" in response.content.decode()
    assert response.context["form"]["patient_phone"].value() == "303-555-0199"
    assert Referral.objects.get(pk=referral.pk).patient_phone == "303-555-0100"
    assert not PatientCorrection.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        (
            "patient_birth_date",
            "13/45/1970",
            "Enter the date of birth as MM/DD/YYYY, or as 8 digits: MMDDYYYY.",
        ),
        ("patient_birth_date", "01/01/2999", "The date of birth is in the future."),
        ("patient_last_name", "", "This field is required."),
    ],
)
def test_a_bad_correction_is_explained_and_nothing_changes(desk, referral, field, value, error):
    data = details_data(referral, **{field: value})

    response = desk.post(reverse("referrals:detail", args=[referral.pk]), data)

    assert error in response.context["form"].errors[field]
    assert Referral.objects.get(pk=referral.pk).version == referral.version
    assert not PatientCorrection.objects.exists()


def test_the_details_form_shows_the_date_of_birth_as_typed_at_the_desk(desk, referral):
    page = desk.get(reverse("referrals:detail", args=[referral.pk])).content.decode()

    assert 'value="05/01/1970"' in page


@time_machine.travel(datetime(2026, 12, 3, 0, 30, tzinfo=ZoneInfo("America/Denver")), tick=False)
def test_a_birth_date_is_in_the_future_by_the_clinics_calendar(client, summit, member_factory, referral):
    # Half past midnight in Denver, the server's zone, is still the 2nd in Los Angeles.
    clinic = ClinicFactory(organization=summit, timezone="America/Los_Angeles")
    client.force_login(member_factory(summit, Role.FRONT_DESK, home_clinic=clinic).user)
    url = reverse("referrals:detail", args=[referral.pk])

    response = client.post(url, details_data(referral, patient_birth_date="12/03/2026"))

    assert "The date of birth is in the future." in response.context["form"].errors["patient_birth_date"]
    client.post(url, details_data(referral, patient_birth_date="12/02/2026"))
    assert Referral.objects.get(pk=referral.pk).patient_birth_date == date(2026, 12, 2)
