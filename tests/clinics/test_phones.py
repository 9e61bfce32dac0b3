"""Phone numbers are parsed when typed, stored in E.164, shown as people read them; nothing typed is lost."""

import random

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from clinics import services
from clinics.models import Clinic, Role
from clinics.phones import INVALID, NO_EXTENSION, phone_display, phone_for_storage, phone_number
from referrals.models import Referral

from ..factories import ClinicFactory, GatekeeperFactory, PracticeFactory, ReferralFactory


@pytest.mark.parametrize(
    "typed",
    ["(303) 555-0142", "303-555-0142", "303.555.0142", "3035550142", "1 303 555 0142", "+1 (303) 555-0142"],
)
def test_every_way_of_writing_a_number_is_stored_one_way(summit, typed):
    clinic = ClinicFactory(organization=summit, phone=typed)

    assert Clinic.objects.filter(pk=clinic.pk).values_list("phone", flat=True).get() == "+13035550142"
    assert phone_display(Clinic.objects.get(pk=clinic.pk).phone) == "(303) 555-0142"


def test_a_number_abroad_keeps_its_country_and_shows_it():
    assert phone_for_storage("+44 20 7946 0958") == "+442079460958"
    assert phone_display("+442079460958") == "+44 20 7946 0958"


@pytest.mark.parametrize("typed", ["555-0142", "(999) 555-0142", "303-555-01", "call the office"])
def test_what_is_no_number_is_refused_with_what_to_type(summit, summit_admin, typed):
    with pytest.raises(ValidationError) as refusal:
        services.clinic_save(
            organization=summit,
            fields=services.ClinicFields(name="North", phone=typed, timezone="America/Denver"),
        )

    assert refusal.value.message_dict == {"phone": [INVALID]}


def test_the_clinic_form_says_why_and_gives_back_what_was_typed(client, summit, summit_admin):
    client.force_login(summit_admin.user)

    response = client.post(
        reverse("clinics:create"), {"name": "North", "phone": "(999) 555-0142", "timezone": "America/Denver"}
    )

    assert response.context["form"].errors["phone"] == [INVALID]
    assert 'value="(999) 555-0142"' in response.content.decode()
    assert not Clinic.objects.filter(name="North").exists()


def test_a_stored_number_comes_back_to_the_form_as_people_read_it(client, summit, summit_admin):
    clinic = ClinicFactory(organization=summit, phone="303.555.0142")
    client.force_login(summit_admin.user)

    page = client.get(reverse("clinics:edit", args=[clinic.pk])).content.decode()

    assert 'type="tel"' in page
    assert 'value="(303) 555-0142"' in page


def test_an_extension_has_no_place_in_a_practice_number(summit):
    practice = PracticeFactory.build(organization=summit, phone="303-555-0142 x12")

    with pytest.raises(ValidationError) as refusal:
        practice.full_clean()

    assert refusal.value.message_dict["phone"] == [NO_EXTENSION]


def test_a_gatekeepers_extension_typed_after_the_number_moves_to_its_field(client, summit, member_factory):
    gatekeeper = GatekeeperFactory(organization=summit, extension="")
    client.force_login(member_factory(summit, Role.LIAISON).user)
    data = {
        "first_name": gatekeeper.first_name,
        "role": gatekeeper.role,
        "phone": "303-555-0142 ext. 12",
        "extension": "",
        "preferred_contact": "phone",
        "is_active": "on",
    }

    client.post(reverse("physicians:gatekeeper_edit", args=[gatekeeper.pk]), data)

    gatekeeper.refresh_from_db()
    assert (str(gatekeeper.phone), gatekeeper.extension) == ("+13035550142", "12")


def test_two_different_extensions_for_a_gatekeeper_are_refused(client, summit, member_factory):
    gatekeeper = GatekeeperFactory(organization=summit)
    client.force_login(member_factory(summit, Role.LIAISON).user)
    data = {
        "first_name": gatekeeper.first_name,
        "role": gatekeeper.role,
        "phone": "303-555-0142 x12",
        "extension": "40",
        "preferred_contact": "phone",
    }

    response = client.post(reverse("physicians:gatekeeper_edit", args=[gatekeeper.pk]), data)

    assert "keep one extension" in response.context["form"].errors["extension"][0]


def test_the_bare_ten_digits_of_an_import_get_libphonenumbers_answer():
    """The import's shortcut (one answer per area code and exchange) agrees with a full parse."""
    rng = random.Random(11)  # noqa: S311  # a repeatable sample, not a secret
    typed = [f"{rng.randrange(200, 1000)}{rng.randrange(10**7):07d}" for _ in range(3000)]

    for value in typed:
        number = phone_number(value)
        expected = number.as_e164 if number.is_valid() else value
        assert phone_for_storage(value) == expected, value


def test_an_import_keeps_what_is_no_number_as_it_came():
    assert phone_for_storage(" 0000000000 ") == "0000000000"
    assert phone_for_storage("303-555-0142 x7") == "303-555-0142 x7"
    assert phone_for_storage("") == ""


BEFORE = [
    ("clinics", "0007_organization_holds_identity_only"),
    ("physicians", "0004_search_text_forgives_spelling"),
    ("referrals", "0014_referral_number_required"),
]
AFTER = [("clinics", "0008_clinic_phone_e164"), ("physicians", "0005_phone_numbers_e164")]


def test_the_upgrade_stores_numbers_in_e164_and_keeps_the_rest_as_typed(scratch_database, capsys):
    apps = scratch_database.migrate_to(BEFORE)
    summit = apps.get_model("clinics", "Organization").objects.create(name="Summit", slug="summit")
    clinic = apps.get_model("clinics", "Clinic").objects.create(
        organization_id=summit.pk, name="Old", phone="303.555.0142"
    )
    practice = apps.get_model("physicians", "Practice").objects.create(
        organization_id=summit.pk, name="Old practice", phone="ask for Ana", fax="(303) 555-0199"
    )
    OldGatekeeper = apps.get_model("physicians", "Gatekeeper")
    moved = OldGatekeeper.objects.create(
        organization_id=summit.pk, practice_id=practice.pk, first_name="Ana", role="scheduler",
        phone="303-555-0142 x12", extension="",
    )  # fmt: skip
    kept = OldGatekeeper.objects.create(
        organization_id=summit.pk, practice_id=practice.pk, first_name="Bo", role="scheduler",
        phone="303-555-0142 x12", extension="40",
    )  # fmt: skip

    apps = scratch_database.migrate_to(AFTER)

    Clinic = apps.get_model("clinics", "Clinic")
    Practice = apps.get_model("physicians", "Practice")
    Gatekeeper = apps.get_model("physicians", "Gatekeeper")
    stored = Clinic.objects.filter(pk=clinic.pk).values_list("phone", flat=True).get()
    assert stored == "+13035550142"
    assert list(Practice.objects.filter(pk=practice.pk).values_list("phone", "fax").get()) == [
        "ask for Ana",
        "+13035550199",
    ]
    gatekeepers = dict(Gatekeeper.objects.values_list("pk", "phone"))
    assert gatekeepers == {moved.pk: "+13035550142", kept.pk: "303-555-0142 x12"}
    assert Gatekeeper.objects.get(pk=moved.pk).extension == "12"
    report = capsys.readouterr().out
    assert f"Practice {practice.pk} phone" in report
    assert f"Gatekeeper {kept.pk} phone" in report


def test_a_number_kept_as_typed_is_shown_marked_and_the_form_asks_for_a_number(desk_client, summit):
    referral = ReferralFactory(organization=summit)
    Referral.objects.filter(pk=referral.pk).update(patient_phone="ask the daughter")

    page = desk_client.get(reverse("referrals:detail", args=[referral.pk])).content.decode()

    assert "ask the daughter" in page
    assert "check number" in page


@pytest.fixture
def desk_client(client, summit, member_factory):
    client.force_login(member_factory(summit, Role.FRONT_DESK).user)
    return client
