"""A clinic in Denver, a treating therapist, and physicians of every rhythm and channel."""

import datetime

import pytest
from django.utils import timezone

from clinics.models import Role
from letters.selectors import letter_settings_get
from physicians.models import UpdateChannel, UpdateRhythm

from ..factories import AffiliationFactory, ClinicFactory, PhysicianFactory, PracticeFactory, ReferralFactory


@pytest.fixture
def clinic(summit):
    return ClinicFactory(organization=summit, name="Summit PT – Downtown", phone="(303) 555-0142")


@pytest.fixture
def therapist(summit, member_factory):
    return member_factory(summit, Role.THERAPIST, user__first_name="Dana", user__last_name="Reyes")


@pytest.fixture
def rules(summit):
    """The letter rules, switched on well before any test's clock."""
    rules = letter_settings_get(organization=summit)
    rules.letters_since = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    rules.save()
    return rules


@pytest.fixture
def make_physician(summit):
    def make(
        rhythm=UpdateRhythm.AFTER_EVALUATION, channel=UpdateChannel.EMAIL, email="doc@example.org", **kw
    ):
        practice = PracticeFactory(organization=summit, fax="(303) 555-0199")
        physician = PhysicianFactory(
            organization=summit, update_rhythm=rhythm, update_channel=channel, email=email, **kw
        )
        AffiliationFactory(organization=summit, physician=physician, practice=practice)
        return physician

    return make


@pytest.fixture
def make_referral(summit, clinic, therapist):
    def make(physician, **kw):
        return ReferralFactory(
            organization=summit,
            clinic=clinic,
            physician=physician,
            therapist=therapist.user,
            patient_first_name=kw.pop("first_name", "Maria"),
            patient_last_name=kw.pop("last_name", "Lopez"),
            received_at=kw.pop("received_at", timezone.now() - datetime.timedelta(days=10)),
            **kw,
        )

    return make
