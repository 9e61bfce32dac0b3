"""The same patient at intake: the warning shows the earlier referral well enough to tell, and links to it."""

from datetime import date, timedelta

from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertInHTML

from referrals.models import Referral, SourceType, Status

from ..factories import ClinicFactory, PhysicianFactory, ReferralFactory
from .intake import intake_data


def earlier(organization, **fields):
    return ReferralFactory(
        organization=organization,
        patient_first_name="Pat",
        patient_last_name="Example",
        patient_birth_date=date(1970, 5, 1),
        received_at=timezone.now() - timedelta(days=10),
        **fields,
    )


def today_intake(desk, physician=None) -> dict:
    return intake_data(desk.clinic, physician, received_at=timezone.localtime().strftime("%Y-%m-%dT%H:%M"))


def test_the_warning_links_to_the_earlier_referral_with_its_physician_and_diagnoses(desk, summit):
    ada = PhysicianFactory(organization=summit, first_name="Ada", last_name="Quill", credential="MD")
    first = earlier(
        summit,
        clinic=desk.clinic,
        physician=ada,
        diagnosis_codes=["M54.50", "M17.11"],
        status=Status.CONTACTED,
    )

    warned = desk.post(reverse("referrals:intake"), today_intake(desk, ada))

    page = warned.content.decode()
    assert "by Ada Quill, MD for M54.50, M17.11:" in page
    link = reverse("referrals:detail", args=[first.pk])
    assertInHTML(
        f'<a href="{link}" target="_blank" rel="noopener">referral #{first.number}'
        '<span class="visually-hidden"> (opens in a new tab)</span></a>',
        page,
    )
    assert ", contacted. Check it is not the same referral." in page
    assert Referral.objects.count() == 1


def test_a_source_named_by_hand_is_shown_as_text_not_markup(desk, summit):
    earlier(
        summit,
        clinic=desk.clinic,
        physician=None,
        source_type=SourceType.ATTORNEY,
        source_name="<b>Lee & Co</b>",
    )

    page = desk.post(reverse("referrals:intake"), today_intake(desk, PhysicianFactory(organization=summit)))

    text = page.content.decode()
    assert "by &lt;b&gt;Lee &amp; Co&lt;/b&gt;:" in text
    assert "<b>Lee" not in text


def test_the_same_patient_in_another_organization_is_not_shown(desk, summit, harbor):
    earlier(harbor, clinic=ClinicFactory(organization=harbor), diagnosis_codes=["R42"])

    response = desk.post(
        reverse("referrals:intake"), today_intake(desk, PhysicianFactory(organization=summit)), follow=True
    )

    assert "This patient was referred on" not in response.content.decode()
    assert Referral.objects.filter(organization=summit).count() == 1
