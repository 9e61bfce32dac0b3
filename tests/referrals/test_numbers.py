"""Referral numbers run per organization (#1, #2… in each), are never shared, and find their referral."""

import contextlib
import dataclasses
import re
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from referrals import services
from referrals.models import Referral, ReferralCounter
from referrals.services import ReferralIntake, ReferralRecord, referral_create, referrals_create_bulk

from ..factories import ClinicFactory, MembershipFactory, PhysicianFactory, ReferralFactory
from .intake import intake_data

RECEIVED = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def intake_for(organization, **overrides):
    fields = ReferralIntake(
        patient_first_name="Ada",
        patient_last_name="Moss",
        patient_birth_date=date(1960, 1, 1),
        patient_phone="(303) 555-0100",
        clinic=ClinicFactory(organization=organization),
        physician=PhysicianFactory(organization=organization),
        received_at=RECEIVED,
    )
    return dataclasses.replace(fields, **overrides)


def test_each_organization_counts_its_own_referrals_from_one(summit, harbor, summit_admin, harbor_admin):
    numbers = [
        referral_create(organization=organization, user=admin.user, fields=intake_for(organization)).number
        for organization, admin in [(summit, summit_admin), (harbor, harbor_admin), (summit, summit_admin)]
    ]

    assert numbers == [1, 1, 2]


def test_the_desk_is_told_the_new_number(desk, summit):
    ReferralFactory.create_batch(2, organization=summit)
    ReferralFactory(organization=ClinicFactory().organization)  # another organization's: not counted

    physician = PhysicianFactory(organization=summit)

    response = desk.post(reverse("referrals:intake"), intake_data(desk.clinic, physician), follow=True)

    assert "Referral #3 logged" in response.content.decode()


def test_a_rolled_back_intake_hands_its_number_out_again(summit, summit_admin):
    with contextlib.suppress(RuntimeError), transaction.atomic():
        referral_create(organization=summit, user=summit_admin.user, fields=intake_for(summit))
        raise RuntimeError("the page failed after the insert")

    kept = referral_create(organization=summit, user=summit_admin.user, fields=intake_for(summit))

    assert kept.number == 1


def test_a_refused_intake_takes_no_number(summit, summit_admin):
    with pytest.raises(services.ValidationError):
        referral_create(
            organization=summit, user=summit_admin.user, fields=intake_for(summit, patient_last_name="")
        )

    assert not ReferralCounter.objects.filter(organization=summit).exists()


def test_the_bulk_path_numbers_after_the_last_one_in_the_order_received(summit, summit_admin):
    ReferralFactory(organization=summit)
    later = intake_for(summit, received_at=RECEIVED)
    earlier = intake_for(summit, received_at=RECEIVED - timedelta(days=3))

    made = referrals_create_bulk(
        organization=summit,
        records=[ReferralRecord(intake=intake, created_by=summit_admin.user) for intake in (later, earlier)],
    )
    after = referral_create(organization=summit, user=summit_admin.user, fields=intake_for(summit))

    assert [referral.number for referral in made] == [3, 2]
    assert after.number == 4


def test_the_database_refuses_a_second_referral_with_the_same_number(summit):
    first = ReferralFactory(organization=summit)

    with pytest.raises(IntegrityError), transaction.atomic():
        ReferralFactory(organization=summit, number=first.number)


def test_a_counter_lost_or_never_made_counts_on_from_the_highest_number(summit, summit_admin):
    ReferralFactory(organization=summit, number=41)
    ReferralCounter.objects.filter(organization=summit).delete()

    made = referral_create(organization=summit, user=summit_admin.user, fields=intake_for(summit))

    assert made.number == 42


@pytest.mark.parametrize("typed", ["7", "#7", " #7 "])
def test_the_referral_list_finds_a_referral_by_its_number(desk, summit, typed):
    referrals = ReferralFactory.create_batch(8, organization=summit)

    response = desk.get(reverse("referrals:list"), {"number": typed})

    assert [referral.pk for referral in response.context["page"]] == [referrals[6].pk]
    assert referrals[6].number == 7


def test_a_number_that_is_not_one_says_so(desk, summit):
    response = desk.get(reverse("referrals:list"), {"number": "seven"})

    assert "Type the referral&#x27;s number, e.g. 12 or #12." in response.content.decode()


def test_pages_name_the_referral_by_its_number_not_its_id(desk, summit):
    ReferralFactory(organization=ClinicFactory().organization)  # takes an id, not a Summit number
    referral = ReferralFactory(organization=summit)
    assert referral.pk != referral.number

    detail = desk.get(reverse("referrals:detail", args=[referral.pk])).content.decode()
    listing = desk.get(reverse("referrals:list")).content.decode()
    queues = desk.get(reverse("referrals:queues")).content.decode()

    assert f"<title>Referral #{referral.number}" in detail
    for page in (detail, listing, queues):
        assert f"#{referral.number}" in page
        assert f"#{referral.pk}" not in page


BEFORE_NUMBERS = [("referrals", "0012_referral_number")]
AFTER_NUMBERS = [("referrals", "0013_number_existing_referrals")]


def test_existing_referrals_are_numbered_per_organization_in_the_order_received(scratch_database):
    apps = scratch_database.migrate_to(BEFORE_NUMBERS)
    OldOrganization = apps.get_model("clinics", "Organization")
    summit = OldOrganization.objects.create(name="Summit", slug="summit")
    harbor = OldOrganization.objects.create(name="Harbor", slug="harbor")
    common = {
        "patient_first_name": "Pat",
        "patient_last_name": "Example",
        "patient_birth_date": "1970-05-01",
        "patient_phone": "303-555-0100",
        "source_type": "direct_access",
    }
    OldClinic = apps.get_model("clinics", "Clinic")
    OldReferral = apps.get_model("referrals", "Referral")
    made = {}
    # Typed in this order; received in another. Two received at the same moment go by id.
    for name, organization, received in [
        ("summit late", summit, "2026-03-05T10:00:00Z"),
        ("summit early", summit, "2026-03-01T10:00:00Z"),
        ("harbor only", harbor, "2026-03-03T10:00:00Z"),
        ("summit tie typed first", summit, "2026-03-02T10:00:00Z"),
        ("summit tie typed second", summit, "2026-03-02T10:00:00Z"),
    ]:
        clinic = OldClinic.objects.create(organization_id=organization.pk, name=name)
        made[name] = OldReferral.objects.create(
            organization_id=organization.pk, clinic_id=clinic.pk, received_at=received, **common
        ).pk

    apps = scratch_database.migrate_to(AFTER_NUMBERS)

    numbers = dict(apps.get_model("referrals", "Referral").objects.values_list("pk", "number"))
    assert {name: numbers[pk] for name, pk in made.items()} == {
        "summit early": 1,
        "summit tie typed first": 2,
        "summit tie typed second": 3,
        "summit late": 4,
        "harbor only": 1,
    }
    counters = apps.get_model("referrals", "ReferralCounter").objects
    assert dict(counters.values_list("organization__slug", "last_number")) == {"summit": 4, "harbor": 1}


INTAKES_AT_ONCE = 6


@pytest.mark.django_db(transaction=True)
def test_intakes_at_the_same_moment_never_share_a_number(monkeypatch, summit):
    """Each intake runs in its own thread, on its own connection, in its own transaction.

    On PostgreSQL they are made to overlap: every one has begun its
    transaction and saved nothing yet when all of them ask for a number at
    once. Reading the highest number and adding one, without a lock, would
    give several of them the same. With the counter's row lock, the first to
    take a number holds the others until it commits, so none of them can
    reach the second barrier while it waits there: the barrier breaks. SQLite
    admits one writing transaction at a time (BEGIN IMMEDIATE), so there the
    intakes run one after another, unsynchronized.
    """
    user = MembershipFactory(organization=summit).user
    fields = [intake_for(summit, patient_last_name=f"Moss{n}") for n in range(INTAKES_AT_ONCE)]
    ReferralFactory(organization=summit)  # the counter exists: every intake takes the same path
    overlapping = connection.vendor == "postgresql"
    all_begun = threading.Barrier(INTAKES_AT_ONCE if overlapping else 1, timeout=30)
    all_numbered = threading.Barrier(INTAKES_AT_ONCE if overlapping else 1, timeout=1)
    take = services.referral_numbers_take

    def take_at_the_same_moment(**kwargs) -> range:
        all_begun.wait()
        numbers = take(**kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            all_numbered.wait()
        return numbers

    monkeypatch.setattr(services, "referral_numbers_take", take_at_the_same_moment)
    outcomes: list[str] = []

    def run(intake: ReferralIntake) -> None:
        try:
            referral_create(organization=summit, user=user, fields=intake)
            outcomes.append("saved")
        except Exception as error:  # any failure is the test's answer
            outcomes.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(intake,)) for intake in fields]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert outcomes == ["saved"] * INTAKES_AT_ONCE
    numbers = sorted(Referral.objects.filter(organization=summit).values_list("number", flat=True))
    assert numbers == list(range(1, INTAKES_AT_ONCE + 2))
    if overlapping:
        assert not all_begun.broken, "the transactions never overlapped: no race was tested"
        assert all_numbered.broken, "several intakes held a number before the first committed"


def test_no_template_shows_a_referrals_id_as_its_number():
    """A page names a referral "#{{ referral.number }}", never "#{{ referral.pk }}", the id all share."""
    shown_id = re.compile(r"#{{\s*[\w.]*?(referral\.pk|referral\.id|referral_id)\s*[|}]")
    base = Path(settings.BASE_DIR)
    offenders = [
        path.relative_to(base)
        for path in base.glob("*/templates/**/*.html")
        if ".venv" not in path.parts and shown_id.search(path.read_text())
    ]

    assert not offenders
