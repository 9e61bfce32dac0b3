"""The demo pipeline `manage.py seed_demo` loads: idempotent, deterministic, consistent, realistic.

The package's `seeded_at` seeds once for all of them (tests/demo/conftest.py).
"""

import re
import statistics
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO
from itertools import pairwise

import time_machine
from django.apps import apps
from django.core.management import call_command
from django.db import models
from django.db.models import Count, F
from django.utils import timezone

from physicians.models import Stage
from referrals.diagnoses import diagnosis_lookup, normalize_icd10
from referrals.models import (
    OPEN_STATUSES,
    TRANSITIONS,
    BodyRegion,
    ContactAttempt,
    LossReason,
    PlanOfCare,
    Referral,
    SourceType,
    Status,
    StatusChange,
)
from referrals.selectors import queue, referral_attributions, referral_settings_get

NEVER_EVALUATED = (Status.RECEIVED, Status.CONTACTED, Status.SCHEDULED)
# What a diagnosis says about the body region, independent of the demo's own tables;
# codes absent here (aftercare, weakness, gait, falls, chronic pain) fit several regions.
REGION_OF_CODE = {
    "M54.5": BodyRegion.LUMBAR,
    "M54.16": BodyRegion.LUMBAR,
    "M48.06": BodyRegion.LUMBAR,
    "M54.2": BodyRegion.CERVICAL,
    "M54.12": BodyRegion.CERVICAL,
    "S13.4": BodyRegion.CERVICAL,
    "M54.6": BodyRegion.THORACIC,
    "M75.": BodyRegion.SHOULDER,
    "M25.51": BodyRegion.SHOULDER,
    "M77.1": BodyRegion.ELBOW,
    "G56.0": BodyRegion.WRIST_HAND,
    "M25.53": BodyRegion.WRIST_HAND,
    "M16.": BodyRegion.HIP,
    "M25.55": BodyRegion.HIP,
    "Z96.64": BodyRegion.HIP,
    "M17.": BodyRegion.KNEE,
    "M25.56": BodyRegion.KNEE,
    "S83.": BodyRegion.KNEE,
    "Z96.65": BodyRegion.KNEE,
    "S93.": BodyRegion.ANKLE_FOOT,
    "M72.2": BodyRegion.ANKLE_FOOT,
    "M76.6": BodyRegion.ANKLE_FOOT,
    "R42": BodyRegion.VESTIBULAR,
    "H81.1": BodyRegion.VESTIBULAR,
    "N39.": BodyRegion.PELVIC,
    "I69.3": BodyRegion.NEUROLOGIC,
}


def snapshot():
    return {
        "referrals": sorted(
            Referral.objects.values_list(
                "organization__slug",
                "patient_first_name",
                "patient_last_name",
                "patient_birth_date",
                "patient_phone",
                "patient_email",
                "received_at",
                "source_type",
                "physician__npi",
                "source_name",
                "clinic__name",
                "payer__name",
                "channel",
                "diagnosis_codes",
                "body_region",
                "priority",
                "notes",
                "therapist__username",
                "status",
                "loss_reason",
                "version",
                "visits_attended",
                "billed_amount",
                "collected_amount",
                "created_at",
                "updated_at",
            ),
            key=repr,
        ),
        "status_changes": sorted(
            StatusChange.objects.values_list("organization__slug", "to_status").annotate(n=Count("pk"))
        ),
    }


def history():
    return sorted(
        StatusChange.objects.values_list(
            "referral__patient_phone",
            "referral__received_at",
            "from_status",
            "to_status",
            "loss_reason",
            "changed_by__username",
            "changed_at",
        )
    )


def test_a_second_run_adds_and_changes_nothing(demo):
    first = snapshot()

    call_command("seed_demo", stdout=StringIO())

    assert snapshot() == first


def test_seeding_again_at_the_same_moment_gives_the_same_referrals(demo, seeded_at):
    first, first_history = snapshot(), history()
    Referral.objects.all().delete()

    with time_machine.travel(seeded_at, tick=False):
        call_command("seed_demo", stdout=StringIO())

    assert snapshot() == first
    assert history() == first_history


def test_volumes_sources_and_mix_are_realistic(demo):
    for slug, (low, high) in {"summit": (1400, 1650), "harbor": (500, 700)}.items():
        referrals = Referral.objects.filter(organization=demo[slug])
        total = referrals.count()
        assert low <= total <= high
        sources = Counter(referrals.values_list("source_type", flat=True))
        assert set(sources) == set(SourceType.values)
        assert 0.05 < sources[SourceType.DIRECT_ACCESS] / total < 0.15
        assert sources[SourceType.PHYSICIAN] / total > 0.75
        assert (
            not referrals.exclude(source_type=SourceType.PHYSICIAN).filter(physician__isnull=False).exists()
        )
        assert not referrals.filter(source_type=SourceType.ATTORNEY, source_name="").exists()
        channels = Counter(referrals.values_list("channel", flat=True))
        assert (channels["fax"] + channels["phone"]) / total > 0.5
        assert len(channels) == 6
        priorities = Counter(referrals.values_list("priority", flat=True))
        assert priorities["routine"] / total > 0.8
        assert priorities["post_op"] > 10
        assert priorities["urgent"] > 10
        stages = Counter(referrals.filter(source_type="physician").values_list("physician__stage", flat=True))
        assert Stage.PROSPECT not in stages
        assert stages[Stage.FIRST_IMPRESSION] < stages[Stage.BUILDING_TRUST] < stages[Stage.MAINTAINING]
        months = Counter(
            received.strftime("%Y-%m") for received in referrals.values_list("received_at", flat=True)
        )
        assert len(months) >= 18
        assert referrals.filter(received_at__lt=timezone.now() - timedelta(days=560)).count() == 0


def test_a_few_core_physicians_send_over_a_quarter(demo):
    for organization in demo.values():
        per_physician = sorted(
            Referral.objects.filter(organization=organization, source_type=SourceType.PHYSICIAN)
            .values_list("physician")
            .annotate(n=Count("pk"))
            .values_list("n", flat=True),
            reverse=True,
        )
        assert sum(per_physician[:4]) / sum(per_physician) > 0.25
        assert len(per_physician) >= 40


def test_diagnoses_are_valid_and_match_the_body_region(demo):
    for region, codes in Referral.objects.values_list("body_region", "diagnosis_codes"):
        assert codes
        assert all(normalize_icd10(code) == code for code in codes)
        assert all(getattr(diagnosis_lookup(code), "billable", False) for code in codes), codes
        implied = {r for code in codes for prefix, r in REGION_OF_CODE.items() if code.startswith(prefix)}
        if len(implied) > 1:
            assert region == BodyRegion.MULTIPLE, codes
        elif implied:
            assert region in implied, codes


def test_every_history_follows_the_pipeline_to_the_current_status(demo):
    now = timezone.now()
    chains = defaultdict(list)
    for row in StatusChange.objects.order_by("referral_id", "changed_at", "pk").values_list(
        "referral_id", "organization_id", "from_status", "to_status", "loss_reason", "changed_at"
    ):
        chains[row[0]].append(row[1:])
    referrals = Referral.objects.all()
    assert len(chains) == referrals.count()
    for referral in referrals:
        chain = chains[referral.pk]
        assert chain[0] == (referral.organization_id, "", Status.RECEIVED, "", referral.received_at)
        for previous, step in pairwise(chain):
            assert step[0] == referral.organization_id
            assert step[1] == previous[2]
            assert step[2] in TRANSITIONS[previous[2]]
            assert (step[3] in LossReason.values) if step[2] == Status.LOST else step[3] == ""
            assert previous[4] <= step[4] <= now
        assert chain[-1][2] == referral.status
        # One save per history row: visits and money are sums of dated rows, not a save of the referral.
        assert referral.version == len(chain)
        if referral.status == Status.LOST:
            assert referral.loss_reason in LossReason.values
            assert chain[-1][3] == referral.loss_reason
        else:
            assert referral.loss_reason == ""


def test_outcomes_fall_out_of_realistic_fates(demo):
    now = timezone.now()
    for organization in demo.values():
        referrals = Referral.objects.filter(organization=organization)
        statuses = Counter(referrals.values_list("status", flat=True))
        assert 0.12 < statuses[Status.LOST] / sum(statuses.values()) < 0.28
        reasons = Counter(referrals.filter(status=Status.LOST).values_list("loss_reason", flat=True))
        assert reasons.most_common(1)[0][0] == LossReason.UNREACHABLE
        assert len(reasons) >= 5
        # Old referrals have run their course; the last few weeks hold every open state.
        assert not referrals.filter(
            status__in=OPEN_STATUSES, received_at__lt=now - timedelta(days=180)
        ).exists()
        recent = set(
            referrals.filter(received_at__gte=now - timedelta(days=42)).values_list("status", flat=True)
        )
        assert set(OPEN_STATUSES) <= recent


def test_visits_and_money_follow_the_evaluation(demo):
    referrals = Referral.objects.all()
    never_evaluated = referrals.filter(status__in=NEVER_EVALUATED)
    assert not never_evaluated.exclude(visits_attended=0, billed_amount=0, collected_amount=0).exists()
    assert not referrals.filter(
        status__in=[Status.EVALUATED, Status.IN_CARE, Status.DISCHARGED], visits_attended=0
    ).exists()
    discharged = list(referrals.filter(status=Status.DISCHARGED).values_list("visits_attended", flat=True))
    assert 8.5 <= statistics.mean(discharged) <= 11
    assert min(discharged) == 1
    assert max(discharged) >= 20
    for visits, billed, collected in referrals.filter(visits_attended__gt=0).values_list(
        "visits_attended", "billed_amount", "collected_amount"
    ):
        assert visits * Decimal(150) <= billed <= visits * Decimal(180)
        assert visits * Decimal(100) <= collected <= visits * Decimal(110)


def test_summit_referrals_are_assigned_to_the_therapist_once_booked(demo):
    summit = Referral.objects.filter(organization=demo["summit"])
    booked = summit.filter(status__in=[Status.SCHEDULED, Status.EVALUATED, Status.IN_CARE, Status.DISCHARGED])
    assert set(booked.values_list("therapist__username", flat=True)) == {"summit.therapist"}
    assert not summit.filter(status=Status.RECEIVED, therapist__isnull=False).exists()
    assert not Referral.objects.filter(organization=demo["harbor"], therapist__isnull=False).exists()


def test_needs_contact_queue_has_late_and_on_time_referrals_right_after_seeding(demo):
    for organization in demo.values():
        sla = referral_settings_get(organization=organization).contact_sla_business_days
        rows = queue(organization=organization, name="needs_contact")

        late = [row for row in rows if row.overdue]
        # Late from the deadline's own hour: received Tuesday at 10:00, one
        # business day, it is late on Wednesday at 10:01, one business day in.
        assert all(row.business_days_waiting >= sla for row in late)
        # A front desk that has fallen behind, by a business day or more.
        assert len([row for row in late if row.business_days_waiting > sla]) >= 3
        assert any(not row.overdue for row in rows)


def test_booked_referrals_have_their_first_appointment_and_the_desk_its_attempts(demo):
    booked = Referral.objects.filter(
        status__in=[Status.SCHEDULED, Status.EVALUATED, Status.IN_CARE, Status.DISCHARGED]
    )
    assert not booked.filter(first_appointment_at__isnull=True).exists()
    assert not booked.filter(first_appointment_at__lt=F("received_at")).exists()
    assert not Referral.objects.filter(
        status__in=[Status.RECEIVED, Status.CONTACTED], first_appointment_at__isnull=False
    ).exists()
    # An evaluation is the first appointment kept: the first visit, days after the referral.
    waits = [
        (appointment - received).days
        for appointment, received in booked.exclude(status=Status.SCHEDULED).values_list(
            "first_appointment_at", "received_at"
        )
    ]
    assert 3 <= statistics.median(waits) <= 8
    attempts = ContactAttempt.objects.filter(organization__in=demo.values())
    assert set(attempts.values_list("outcome", flat=True)) >= {"reached", "no_answer", "left_message", "sent"}
    given_up = Referral.objects.filter(status=Status.LOST, loss_reason=LossReason.UNREACHABLE)
    tries = Counter(attempts.filter(referral__in=given_up).values_list("referral_id", flat=True))
    assert statistics.median(tries[pk] for pk in given_up.values_list("pk", flat=True)) >= 3
    assert not attempts.filter(attempted_at__lt=F("referral__received_at")).exists()


def test_a_sample_passes_the_full_validation(demo):
    for referral in Referral.objects.all()[::40]:
        referral.full_clean()


def test_patients_are_synthetic_and_stay_in_the_referral_table(demo):
    patients = set(Referral.objects.values_list("patient_first_name", "patient_last_name"))
    emails = set(Referral.objects.exclude(patient_email="").values_list("patient_email", flat=True))
    assert len(patients) > 500
    assert all(email.endswith("@example.com") for email in emails)
    for phone, birth_date in Referral.objects.values_list("patient_phone", "patient_birth_date"):
        assert re.fullmatch(r"\+1\d{3}55501\d\d", str(phone))  # fictional 555-01xx numbers, stored in E.164
        assert date(1940, 1, 1) <= birth_date <= date(2010, 12, 31)

    def leaks(text: str) -> bool:
        words = re.findall(r"[\w.@'-]+", text)
        return any(word.lower() in emails for word in words) or any(
            pair in patients for pair in pairwise(words)
        )

    for model in apps.get_models():
        # The referral's change history holds the values it had (clinics/history.py):
        # the referral's own record, kept and removed with it.
        if model in (Referral, Referral.history.model):
            continue
        fields = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
        ]
        if not fields:
            continue
        for values in model._default_manager.values_list(*fields):
            assert not leaks(" ".join(str(value) for value in values)), (model.__name__, values)
    output = StringIO()
    call_command("seed_demo", stdout=output)
    assert not leaks(output.getvalue())


def test_demo_referrals_are_attributed_as_intake_attributes_them(demo):
    """The demo's bulk path records each physician's primary practice and specialty, as intake does."""
    referrals = Referral.objects.filter(organization__in=demo.values(), physician__isnull=False)
    attributions = {
        organization.pk: referral_attributions(
            organization=organization,
            physician_ids=referrals.filter(organization=organization).values_list("physician_id", flat=True),
        )
        for organization in demo.values()
    }

    for referral in referrals.only(
        "organization_id", "physician_id", "referring_practice_id", "referring_taxonomy_code"
    ):
        expected = attributions[referral.organization_id][referral.physician_id]
        assert (referral.referring_practice_id, referral.referring_taxonomy_code) == (
            expected.practice_id,
            expected.taxonomy_code,
        )
    assert referrals.filter(referring_practice__isnull=False).exists()
    assert (
        not Referral.objects.filter(organization__in=demo.values(), physician__isnull=True)
        .exclude(referring_practice=None, referring_taxonomy_code="")
        .exists()
    )


def test_demo_has_plans_of_care_some_signed_some_waiting(demo):
    today = timezone.localdate()
    plans = PlanOfCare.objects.filter(organization=demo["summit"])

    assert plans.filter(signed_on__isnull=False).count() > plans.filter(signed_on__isnull=True).count() > 0
    assert all(plan.starts_on <= today and plan.ends_on > plan.starts_on for plan in plans)
