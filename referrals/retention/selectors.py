"""Reads for retention: which referrals are past the organization's retention period, and the runs so far."""

import datetime

from django.db.models import Max, QuerySet, Subquery
from django.utils import timezone

from clinics.clock import organization_today, organization_zone
from clinics.models import Organization

from ..models import PatientDetailsRemoval, Referral, ReferralSettings, Status
from ..selectors import changes_of_outer_referral

CLOSED_STATUSES = (Status.DISCHARGED, Status.LOST)


def retention_closed_before(
    *, organization: Organization, rules: ReferralSettings, now: datetime.datetime
) -> datetime.date:
    """The first day whose closings are still kept: today, `patient_details_retention_years` earlier.

    Counted in the organization's zone; 29 February goes back to 28 February.
    """
    today = organization_today(organization, now=now)
    years = rules.patient_details_retention_years
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def referrals_past_retention(
    *, organization: Organization, rules: ReferralSettings, now: datetime.datetime | None = None
) -> QuerySet[Referral]:
    """Discharged or lost referrals, closed before the retention period began, still holding patient details.

    Closed: the last time the referral moved to discharged or lost. Oldest
    closing first, each annotated with `closed_at`. One query.
    """
    now = now or timezone.now()
    closed_before = retention_closed_before(organization=organization, rules=rules, now=now)
    start_of_kept_days = datetime.datetime.combine(
        closed_before, datetime.time.min, tzinfo=organization_zone(organization)
    )
    closings = (
        changes_of_outer_referral()
        .filter(to_status__in=CLOSED_STATUSES)
        .values("referral_id")
        .annotate(last=Max("changed_at"))
        .values("last")
    )
    return (
        Referral.objects.for_organization(organization)
        .filter(status__in=CLOSED_STATUSES, patient_details_removed_at__isnull=True)
        .annotate(closed_at=Subquery(closings))
        .filter(closed_at__lt=start_of_kept_days)
        .order_by("closed_at", "pk")
    )


def patient_details_removals(*, organization: Organization) -> QuerySet[PatientDetailsRemoval]:
    return PatientDetailsRemoval.objects.for_organization(organization).select_related("removed_by")
