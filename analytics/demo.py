"""Demo figures for `manage.py seed_demo`: two stories the dashboards should tell, then the rollups.

The other apps' demos draw referrals, care and touches at random, which makes
honest but flat dashboards. Two small additions give a clinic owner
something to see, each written through the same bulk paths as the rest of
the demo and each made once (a second seeding finds it and adds nothing):

1. **Lunches that were followed by more referrals.** Eighty days before
   today, the liaisons took to lunch the physicians (of tiers B and C) whose
   referrals then rose the most over the next 60 days: the Outreach page's
   lift for lunches is clearly above zero. (Chosen after the fact, as a
   liaison's instinct would be: the page's caveat says why such a lift
   proves less than it seems.)
2. **A source worth more than its count.** A physician behind the leaders by
   referrals in the last 90 days sends patients whose care runs longer (more
   visits on weekdays without one, before their discharge, paid), so on the
   Revenue page they lead by money collected while others lead by count.

The referral, billing, outcomes and letters demos write through the bulk
paths, whose hooks keep the facts in step; the outreach demo (and this one) writes touches
straight into the table, so their day counts are rebuilt last.
"""

import math
from collections import Counter
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import zip_longest

from django.db import transaction
from django.db.models import Count, Q, Sum

from billing.models import Payment, PaymentKind, Visit
from billing.services import PaymentFields, VisitFields, billing_rows_create_bulk
from clinics.clock import local_date, local_day_bounds, organization_today, organization_zone
from clinics.models import Membership, Organization, Role
from outreach.flags import flags_update
from outreach.models import Touch, TouchKind, TouchOutcome
from physicians.models import Physician, Stage
from referrals.models import Referral, Status, StatusChange
from referrals.selectors import evaluated_ever

from .rollups import touch_days_rebuild

DEMO_ORGANIZATIONS = ("summit", "harbor")
LUNCH_DAYS_AGO = 80
LIFT_WINDOW = 60
LUNCHES = 8
LUNCH_NOTE = "Lunch-and-learn: what our post-op program offers their patients."
LONGER_CARE_REFERENCE = "DEMO-LONGER-CARE"
VISIT_BILLED = Decimal("165.00")
# Within what the demo pays per visit elsewhere ($100–110 collected, $150–180 billed).
VISIT_PAID = Decimal("108.00")
# Ahead of the physician leading by money, by this share, once the extra care is paid.
LEAD = Decimal("1.05")
# The sources ranked second to fifth by count are the candidates for the longer care.
CANDIDATES = 5
PAYMENT_DAYS = 21


def seed(stdout=None) -> None:
    for organization in Organization.objects.filter(slug__in=DEMO_ORGANIZATIONS):
        if not Referral.objects.for_organization(organization).exists():
            continue
        seed_organization(organization)
        if stdout is not None:
            stdout.write(f"{organization.name}: two stories for the dashboards, and their touches counted")


@transaction.atomic
def seed_organization(organization: Organization) -> None:
    _lunches_before_a_rise(organization)
    _a_source_worth_more_than_its_count(organization)
    touch_days_rebuild(organization=organization)


def _lunches_before_a_rise(organization: Organization) -> None:
    if Touch.objects.for_organization(organization).filter(notes=LUNCH_NOTE).exists():
        return
    zone = organization_zone(organization)
    lunch_day = organization_today(organization) - timedelta(days=LUNCH_DAYS_AGO)
    lunch = datetime.combine(lunch_day, time(12, 30), tzinfo=zone)
    window = timedelta(days=LIFT_WINDOW)
    referrals = Referral.objects.for_organization(organization).filter(
        physician__tier__in=["B", "C"], physician__is_active=True
    )
    changes = (
        referrals.filter(received_at__gte=lunch - window, received_at__lt=lunch + window)
        .values("physician_id")
        .annotate(
            after=Count("pk", filter=Q(received_at__gte=lunch)),
            before=Count("pk", filter=Q(received_at__lt=lunch)),
        )
    )
    rises = Counter({row["physician_id"]: row["after"] - row["before"] for row in changes})
    chosen = [physician_id for physician_id, rise in rises.most_common(LUNCHES) if rise >= 2]
    physicians = (
        Physician.objects.for_organization(organization).filter(pk__in=chosen).exclude(stage=Stage.PROSPECT)
    )
    # Taken by the source's own liaison, else by the organization's first liaison.
    liaison = (
        Membership.objects.filter(organization=organization, role=Role.LIAISON, is_active=True)
        .order_by("pk")
        .values_list("user_id", flat=True)
        .first()
    )
    touches = [
        Touch(
            organization=organization,
            physician=physician,
            kind=TouchKind.LUNCH,
            occurred_at=lunch,
            made_by_id=physician.owner_id or liaison,
            logged_by_id=physician.owner_id or liaison,
            notes=LUNCH_NOTE,
            outcome=TouchOutcome.POSITIVE,
        )
        for physician in physicians.order_by("pk")
    ]
    Touch.objects.bulk_create(touches)
    flags_update(organization=organization, physician_ids=[physician.pk for physician in physicians])


def _free_care_days(
    organization: Organization, referrals: list[Referral], *, last_day: date
) -> list[tuple[Referral, date]]:
    """Weekdays each referral's patient could have come in once more: two queries.

    From the day after the first appointment until the discharge (or
    `last_day`), leaving out weekends and the days with a visit already: at
    most one visit a day, and none after the patient was discharged. The
    referrals take turns, so the longer care is spread over all of them.
    """
    zone = organization_zone(organization)
    discharged = {
        change.referral_id: local_date(change.changed_at, zone)
        for change in StatusChange.objects.for_organization(organization).filter(
            referral__in=referrals, to_status=Status.DISCHARGED
        )
    }
    booked = set(
        Visit.objects.for_organization(organization)
        .filter(referral__in=referrals)
        .values_list("referral_id", "service_date")
    )
    free: list[list[tuple[Referral, date]]] = []
    for referral in referrals:
        assert referral.first_appointment_at is not None  # the caller's filter; narrows the type
        first = local_date(referral.first_appointment_at, zone) + timedelta(days=1)
        end = min(discharged.get(referral.pk, last_day), last_day)
        days = (first + timedelta(days=n) for n in range((end - first).days + 1))
        free.append(
            [(referral, day) for day in days if day.weekday() < 5 and (referral.pk, day) not in booked]
        )
    return [pair for turn in zip_longest(*free) for pair in turn if pair is not None]


def _a_source_worth_more_than_its_count(organization: Organization) -> None:
    """Longer, paid care for the patients of a source behind the leaders by count, until it leads by money.

    The source is the first of those ranked second to fifth whose patients'
    care can take the visits: weekdays without a visit, before their
    discharge and early enough to be paid by today.
    """
    if Payment.objects.for_organization(organization).filter(reference=LONGER_CARE_REFERENCE).exists():
        return
    today = organization_today(organization)
    # The Revenue page's default period: the last 90 days of the organization's.
    since = local_day_bounds(today - timedelta(days=89), organization_zone(organization))[0]
    ranked = list(
        Referral.objects.for_organization(organization)
        .filter(received_at__gte=since, physician__isnull=False)
        .values("physician_id")
        .annotate(referrals=Count("pk"), collected=Sum("collected_amount"))
        .order_by("-referrals", "physician_id")[:CANDIDATES]
    )
    if len(ranked) < 2:
        return
    leader = max(row["collected"] or Decimal(0) for row in ranked)
    # Care that was paid: the payer pays three weeks after the visit.
    last_paid_visit = today - timedelta(days=PAYMENT_DAYS)
    chosen: list[tuple[Referral, date]] = []
    for candidate in ranked[1:]:
        if candidate["referrals"] == ranked[0]["referrals"]:
            continue  # as many referrals as the leader by count: leading by money would say nothing
        needed = math.ceil((leader * LEAD - (candidate["collected"] or Decimal(0))) / VISIT_PAID)
        treated = list(
            Referral.objects.for_organization(organization)
            .filter(evaluated_ever(), physician_id=candidate["physician_id"], received_at__gte=since)
            .exclude(status=Status.LOST)  # care that stopped has no more visits to give
            .filter(first_appointment_at__isnull=False, first_appointment_at__date__lt=last_paid_visit)
            .select_related("clinic", "payer")
            .order_by("received_at", "pk")
        )
        free = _free_care_days(organization, treated, last_day=last_paid_visit)
        if 0 < needed <= len(free):
            chosen = free[:needed]
            break
    visits: list[tuple[Referral, VisitFields]] = []
    payments: list[tuple[Referral, PaymentFields]] = []
    for referral, day in chosen:
        visits.append(
            (
                referral,
                VisitFields(
                    clinic=referral.clinic,
                    service_date=day,
                    procedure_codes=[{"code": "97110", "units": 2}, {"code": "97140", "units": 1}],
                    billed_amount=VISIT_BILLED,
                    payer=referral.payer,
                ),
            )
        )
        payments.append(
            (
                referral,
                PaymentFields(
                    paid_on=day + timedelta(days=PAYMENT_DAYS),
                    amount=VISIT_PAID,
                    kind=PaymentKind.PAYER,
                    payer=referral.payer,
                    reference=LONGER_CARE_REFERENCE,
                ),
            )
        )
    billing_rows_create_bulk(organization=organization, visits=visits, payments=payments)
