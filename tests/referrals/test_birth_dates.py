"""A date of birth is typed from the fax as it is written there: with slashes, or as 8 digits in US order."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from referrals.forms import BirthDateField
from referrals.models import Referral

from ..factories import PhysicianFactory, ReferralFactory
from .intake import details_data, intake_data

REFUSAL = "Enter the date of birth as MM/DD/YYYY, or as 8 digits: MMDDYYYY."


@pytest.mark.parametrize(
    ("typed", "born"),
    [
        ("03141962", date(1962, 3, 14)),
        (" 03141962 ", date(1962, 3, 14)),
        ("12311999", date(1999, 12, 31)),
        ("02292000", date(2000, 2, 29)),
        ("03/14/1962", date(1962, 3, 14)),
        ("3/14/1962", date(1962, 3, 14)),
        ("03-14-1962", date(1962, 3, 14)),
        ("1962-03-14", date(1962, 3, 14)),
    ],
)
def test_eight_digits_are_month_day_year(typed, born):
    assert BirthDateField().clean(typed) == born


@pytest.mark.parametrize(
    "typed",
    [
        "3141962",  # 7 digits: March 14, or a digit lost?
        "031462",  # a two-digit year: which century?
        "031419620",
        "14031962",  # day first: there is no 14th month
        "02292001",  # no February 29 in 2001
        "13/45/1962",
    ],
)
def test_anything_else_is_refused_with_the_formats_it_takes(typed):
    with pytest.raises(ValidationError) as refusal:
        BirthDateField().clean(typed)

    assert refusal.value.messages == [REFUSAL]


def test_intake_takes_eight_digits(desk, summit):
    physician = PhysicianFactory(organization=summit)

    desk.post(reverse("referrals:intake"), intake_data(desk.clinic, physician, patient_birth_date="03141962"))

    assert Referral.objects.get().patient_birth_date == date(1962, 3, 14)


def test_a_correction_takes_eight_digits(desk, summit):
    referral = ReferralFactory(organization=summit)

    desk.post(
        reverse("referrals:detail", args=[referral.pk]), details_data(referral, patient_birth_date="03141962")
    )

    assert Referral.objects.get(pk=referral.pk).patient_birth_date == date(1962, 3, 14)


def test_the_patient_search_takes_eight_digits(desk, summit):
    referral = ReferralFactory(
        organization=summit, patient_first_name="Ada", patient_birth_date=date(1962, 3, 14)
    )

    response = desk.post(
        reverse("referrals:patient_search"),
        {"name": f"Ada {referral.patient_last_name}", "birth_date": "03141962"},
    )

    assert response.context["results"] == [referral]


def test_a_refused_date_comes_back_as_typed(desk, summit):
    physician = PhysicianFactory(organization=summit)

    response = desk.post(
        reverse("referrals:intake"), intake_data(desk.clinic, physician, patient_birth_date="3141962")
    )

    assert response.context["form"]["patient_birth_date"].value() == "3141962"
    assert REFUSAL in response.context["form"].errors["patient_birth_date"]
    assert not Referral.objects.exists()
