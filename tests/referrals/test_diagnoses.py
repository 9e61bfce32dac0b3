"""Diagnosis codes are checked against the ICD-10-CM code list: unknown ones refused, headers asked about."""

import dataclasses
from datetime import UTC, date, datetime
from importlib.metadata import version

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from referrals.diagnoses import ICD10_CM_RELEASE, diagnosis_lookup
from referrals.forms import COMMON_DIAGNOSES
from referrals.models import Referral
from referrals.services import ReferralIntake, ReferralRecord, referral_create, referrals_create_bulk

from ..factories import ClinicFactory, PhysicianFactory, ReferralFactory
from .intake import details_data, intake_data

UNKNOWN = f"“Z99.999” is not in the ICD-10-CM code list ({ICD10_CM_RELEASE}): check it on the order."


def test_the_release_named_is_the_one_the_package_ships():
    # A new simple-icd-10-cm brings a new ICD-10-CM release: update ICD10_CM_RELEASE with it.
    assert version("simple-icd-10-cm").startswith("1.5."), ICD10_CM_RELEASE


@pytest.mark.parametrize("typed", ["M54.50", "m5450", " M54.50 "])
def test_a_billable_code_is_found_however_it_is_typed(typed):
    found = diagnosis_lookup(typed)

    assert found is not None
    assert (found.code, found.description, found.billable) == ("M54.50", "Low back pain, unspecified", True)


def test_a_header_code_is_not_billable_and_lists_its_billable_codes():
    header = diagnosis_lookup("M54.5")

    assert header is not None
    assert header.description == "Low back pain"
    assert not header.billable
    assert [code.code for code in header.billable_codes] == ["M54.50", "M54.51", "M54.59"]


@pytest.mark.parametrize("typed", ["Z99.999", "M54.5X", "12", "M50-M54", "hello", ""])
def test_what_is_not_an_icd10_cm_code_is_not_found(typed):
    assert diagnosis_lookup(typed) is None


def test_every_suggested_code_is_billable():
    for code, _ in COMMON_DIAGNOSES:
        found = diagnosis_lookup(code)
        assert found is not None, code
        assert found.billable, code


def test_intake_refuses_an_unknown_code_and_keeps_what_was_typed(desk, summit):
    data = intake_data(desk.clinic, PhysicianFactory(organization=summit), diagnosis_codes="M54.50, z99999")

    response = desk.post(reverse("referrals:intake"), data)

    form = response.context["form"]
    assert form.errors["diagnosis_codes"] == [UNKNOWN]
    assert form["diagnosis_codes"].value() == "M54.50, z99999"
    assert not Referral.objects.exists()


def test_a_header_code_holds_the_intake_with_its_billable_codes_to_choose_from(desk, summit):
    data = intake_data(desk.clinic, PhysicianFactory(organization=summit), diagnosis_codes="m545, M17.11")

    response = desk.post(reverse("referrals:intake"), data)

    page = response.content.decode()
    assert "Not billable as written" in page
    assert "M54.5 Low back pain" in page
    for code, description in [
        ("M54.50", "Low back pain, unspecified"),
        ("M54.51", "Vertebrogenic low back pain"),
        ("M54.59", "Other low back pain"),
    ]:
        assert f'value="{code}"' in page
        assert description in page
    assert "Keep M54.5 as the order writes it" in page
    assert not Referral.objects.exists()


def test_choosing_a_billable_code_saves_it_in_the_headers_place(desk, summit):
    data = intake_data(
        desk.clinic,
        PhysicianFactory(organization=summit),
        diagnosis_codes="m545, M17.11",
        **{"diagnosis_choice_M54.5": "M54.59"},
    )

    desk.post(reverse("referrals:intake"), data)

    assert Referral.objects.get().diagnosis_codes == ["M54.59", "M17.11"]


def test_a_header_can_be_kept_as_the_order_writes_it(desk, summit):
    data = intake_data(
        desk.clinic,
        PhysicianFactory(organization=summit),
        diagnosis_codes="M54.5",
        **{"diagnosis_choice_M54.5": "M54.5"},
    )

    desk.post(reverse("referrals:intake"), data)

    referral = Referral.objects.get()
    assert referral.diagnosis_codes == ["M54.5"]
    page = desk.get(reverse("referrals:detail", args=[referral.pk])).content.decode()
    assert "Low back pain" in page
    assert "not billable" in page


def test_a_choice_that_is_not_beneath_the_header_is_asked_again(desk, summit):
    data = intake_data(
        desk.clinic,
        PhysicianFactory(organization=summit),
        diagnosis_codes="M54.5",
        **{"diagnosis_choice_M54.5": "M17.11"},
    )

    response = desk.post(reverse("referrals:intake"), data)

    assert "Not billable as written" in response.content.decode()
    assert not Referral.objects.exists()


def test_a_choice_made_survives_a_round_trip_for_another_error(desk, summit):
    data = intake_data(
        desk.clinic,
        PhysicianFactory(organization=summit),
        diagnosis_codes="M54.5",
        patient_last_name="",
        **{"diagnosis_choice_M54.5": "M54.51"},
    )

    response = desk.post(reverse("referrals:intake"), data)

    page = response.content.decode()
    assert 'id="diagnosis_choice_M54.5-M54.51" value="M54.51" checked' in page
    assert not Referral.objects.exists()


def test_a_possible_duplicate_and_a_header_are_asked_about_together(desk, summit):
    physician = PhysicianFactory(organization=summit)
    ReferralFactory(
        organization=summit,
        patient_first_name="Pat",
        patient_last_name="Example",
        patient_birth_date=date(1970, 5, 1),
        received_at=datetime(2026, 11, 20, 16, tzinfo=UTC),
    )

    response = desk.post(
        reverse("referrals:intake"), intake_data(desk.clinic, physician, diagnosis_codes="M54.5")
    )

    page = response.content.decode()
    assert "This patient was referred on" in page
    assert "Not billable as written" in page
    assert Referral.objects.count() == 1


def test_a_header_the_referral_already_has_is_not_asked_about_again(desk, summit):
    referral = ReferralFactory(organization=summit, diagnosis_codes=["M54.5"])

    desk.post(
        reverse("referrals:detail", args=[referral.pk]),
        details_data(referral, diagnosis_codes="M54.5", notes="Called back"),
    )

    referral.refresh_from_db()
    assert (referral.notes, referral.diagnosis_codes) == ("Called back", ["M54.5"])


def test_a_header_added_on_the_details_form_is_asked_about(desk, summit):
    referral = ReferralFactory(organization=summit, diagnosis_codes=["M17.11"])

    response = desk.post(
        reverse("referrals:detail", args=[referral.pk]),
        details_data(referral, diagnosis_codes="M17.11, M54.5"),
    )

    assert "Not billable as written" in response.content.decode()
    assert Referral.objects.get(pk=referral.pk).diagnosis_codes == ["M17.11"]


def test_a_code_stored_before_the_check_is_kept_shown_and_asked_to_be_corrected(desk, summit):
    referral = ReferralFactory(organization=summit)
    Referral.objects.filter(pk=referral.pk).update(diagnosis_codes=["Z99.999", "M54.50"])

    page = desk.get(reverse("referrals:detail", args=[referral.pk])).content.decode()
    response = desk.post(
        reverse("referrals:detail", args=[referral.pk]),
        details_data(referral, diagnosis_codes="Z99.999, M54.50"),
    )

    assert "not an ICD-10-CM code" in page
    assert "Low back pain, unspecified" in page
    assert response.context["form"].errors["diagnosis_codes"] == [UNKNOWN]
    assert Referral.objects.get(pk=referral.pk).diagnosis_codes == ["Z99.999", "M54.50"]


def test_the_services_refuse_an_unknown_code_too(summit, summit_admin):
    intake = ReferralIntake(
        patient_first_name="Ada",
        patient_last_name="Moss",
        patient_birth_date=date(1960, 1, 1),
        patient_phone="(303) 555-0100",
        clinic=ClinicFactory(organization=summit),
        physician=PhysicianFactory(organization=summit),
        diagnosis_codes=["Z99.999"],
        received_at=datetime(2026, 3, 2, 15, tzinfo=UTC),
    )

    with pytest.raises(ValidationError) as refused:
        referral_create(organization=summit, user=summit_admin.user, fields=intake)
    with pytest.raises(ValidationError, match="Referral 2: "):
        referrals_create_bulk(
            organization=summit,
            records=[
                ReferralRecord(intake=dataclasses.replace(intake, diagnosis_codes=codes), created_by=None)
                for codes in (["M54.50"], ["Z99.999"])
            ],
        )

    assert refused.value.message_dict == {"diagnosis_codes": [UNKNOWN]}
    assert not Referral.objects.exists()
