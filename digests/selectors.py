"""Reads of the weekly digest: one person's digest as a page, and who receives what."""

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.utils import timezone

from clinics.clock import person_zone
from clinics.models import Membership, Organization
from outbox.selectors import email_delivery_by_key, email_suppressed_addresses

from .content import DIGEST_ROLES, Digest, digests_build, sections_for
from .models import DigestPreference, Section
from .schedule import WEEKDAYS, digest_week


def digest_key(*, organization_id: int, user_id: int, week: str, test: bool = False) -> str:
    """The outbox key of a person's digest of a week: one per organization, person and ISO week.

    A test send (an admin's "send my digest now") has a key of its own, so it
    neither stops nor repeats the scheduled one, and is itself sent once a week.
    """
    return f"digest{'-test' if test else ''}:{organization_id}:{user_id}:{week}"


def digest_preview(
    *, membership: Membership, sections_off: set[str], now: datetime.datetime | None = None
) -> Digest:
    """The person's digest as it would be sent at `now` (by default, now): the page and the test send."""
    now = now or timezone.now()
    (digest,) = digests_build(
        organization=membership.organization,
        recipients=[(membership, sections_off, digest_week(now, person_zone(membership)))],
        now=now,
    )
    return digest


@dataclass(frozen=True)
class RecipientRow:
    membership: Membership
    zone: ZoneInfo
    preference: DigestPreference | None
    sections: list[str]
    unsubscribed: bool
    # Where this week's scheduled digest stands in the outbox ("" when none was queued this week).
    this_week: str

    @property
    def when(self) -> str:
        weekday, hour = (self.preference.weekday, self.preference.hour) if self.preference else (0, 7)
        return f"{WEEKDAYS[weekday]} {hour:02d}:00"

    @property
    def receives(self) -> bool:
        return (
            bool(self.membership.user.email)
            and not self.unsubscribed
            and (self.preference is None or self.preference.enabled)
        )


def digest_recipients(
    *, organization: Organization, now: datetime.datetime | None = None
) -> list[RecipientRow]:
    """Every active therapist, liaison and admin: what their digest holds and when it comes; four queries."""
    now = now or timezone.now()
    memberships = list(
        Membership.objects.for_organization(organization)
        .filter(is_active=True, role__in=DIGEST_ROLES)
        .select_related("user", "organization", "home_clinic")
    )
    preferences = {
        preference.membership_id: preference
        for preference in DigestPreference.objects.for_organization(organization).filter(
            membership_id__in=[m.pk for m in memberships]
        )
    }
    suppressed = set(email_suppressed_addresses(organization=organization))
    keys = {
        m.pk: digest_key(
            organization_id=organization.pk, user_id=m.user_id, week=digest_week(now, person_zone(m))
        )
        for m in memberships
    }
    deliveries = email_delivery_by_key(organization=organization, keys=keys.values())
    rows = []
    for membership in memberships:
        preference = preferences.get(membership.pk)
        off = set(preference.sections_off) if preference else set()
        delivery = deliveries.get(keys[membership.pk])
        rows.append(
            RecipientRow(
                membership=membership,
                zone=person_zone(membership),
                preference=preference,
                sections=[Section(key).label for key in sections_for(membership.role) if key not in off],
                unsubscribed=membership.user.email.lower() in suppressed,
                this_week=delivery.status_label if delivery else "",
            )
        )
    return rows
