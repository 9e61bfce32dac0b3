"""Writes of the weekly digest: preferences, and the sweep that sends what is due, exactly once a week.

The sweep (`digests_send_due`, the beat job's service) asks the database what
is due, a batch at a time, and for each batch, in one transaction:

1. Takes up to DIGESTS_BATCH_SIZE due rows, soonest first, locked with
   SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL, so a concurrent sweep takes
   other rows (on SQLite the IMMEDIATE transaction serializes sweeps).
2. Claims them with one conditional UPDATE: each row moves to its next week
   only where `next_digest_at` still holds the value just read. Should any
   row have been claimed meanwhile, the whole batch is rolled back and left
   to the next tick.
3. Builds the batch's digests, per organization, from the other apps'
   selectors (content.py), in a fixed number of queries however many
   recipients the batch holds.
4. Queues one email per person through the outbox, whose idempotency key
   names the organization, the person and the ISO week of the digest's slot:
   whatever runs twice, the outbox keeps the first row.

A worker killed before step 4 commits leaves nothing behind: the rows are
still due and the next tick sends them. After the commit, the outbox delivers
each email once (outbox/services.py says what no SMTP client can promise).
"""

import datetime
import logging
from collections.abc import Iterable
from functools import reduce
from itertools import groupby
from operator import or_

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Case, CharField, DateTimeField, Q, Value, When
from django.urls import reverse
from django.utils import timezone

from clinics.clock import person_zone
from clinics.links import site_url
from clinics.models import Membership, Organization
from outbox.models import OutboundEmail
from outbox.services import EmailToQueue, email_enqueue_many

from .content import DIGEST_ROLES, Digest, digests_build, sections_for
from .models import DigestPreference
from .schedule import choose_next_digest_at, digest_week
from .selectors import digest_key

logger = logging.getLogger(__name__)

EMAIL_KIND = "weekly_digest"
EMAIL_TEMPLATE = "digests/email/digest"


class ClaimLost(Exception):
    """Another sweep claimed a row of the batch between the read and the claim."""


def _next_at(preference: DigestPreference, *, after: datetime.datetime) -> datetime.datetime | None:
    if not preference.enabled:
        return None
    return choose_next_digest_at(
        zone=person_zone(preference.membership), weekday=preference.weekday, hour=preference.hour, after=after
    )


def _eligible_memberships() -> Q:
    return Q(is_active=True, user__is_active=True, role__in=DIGEST_ROLES)


def digest_preferences_ensure(*, now: datetime.datetime, organization: Organization | None = None) -> int:
    """Gives every active therapist, liaison and admin without a preference row one with the defaults.

    Two queries however many: one reads the memberships without a row, one
    inserts theirs (a row a concurrent call made first is left as it is).
    """
    missing = Membership.objects.filter(_eligible_memberships()).exclude(
        pk__in=DigestPreference.objects.values("membership_id")
    )
    if organization is not None:
        missing = missing.filter(organization=organization)
    rows = []
    for membership in missing.select_related("organization", "home_clinic"):
        preference = DigestPreference(organization_id=membership.organization_id, membership=membership)
        preference.next_digest_at = _next_at(preference, after=now)
        rows.append(preference)
    DigestPreference.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def digest_preference_for(*, membership: Membership) -> DigestPreference:
    """The person's preference row, made with the defaults the first time; select the membership's zone."""
    preference = DigestPreference.objects.filter(membership=membership).first()
    if preference is None:
        digest_preferences_ensure(now=timezone.now(), organization=membership.organization)
        preference = DigestPreference.objects.filter(membership=membership).first()
    if preference is None:
        raise PermissionDenied("Weekly digests are for therapists, liaisons and admins.")
    preference.membership = membership
    return preference


@transaction.atomic
def digest_preference_update(
    *,
    membership: Membership,
    enabled: bool,
    weekday: int,
    hour: int,
    sections_off: Iterable[str],
) -> DigestPreference:
    """Saves the person's choices and schedules their next digest on their own clock.

    A digest already sent this week is not sent again when the day moves
    later in the same week: the outbox key names the week.
    """
    preference = digest_preference_for(membership=membership)
    known = {section.value for section in sections_for(membership.role)}
    unknown = set(sections_off) - known
    if unknown:
        raise ValidationError(f"Unknown sections: {', '.join(sorted(unknown))}.")
    preference.enabled, preference.weekday, preference.hour = enabled, weekday, hour
    preference.sections_off = sorted(set(sections_off))
    preference.full_clean(exclude=["organization", "membership"])
    now = timezone.now()
    preference.next_digest_at = _next_at(preference, after=now)
    preference.updated_at = now
    preference.save()
    return preference


def _due(now: datetime.datetime) -> Q:
    return Q(
        next_digest_at__lte=now,
        enabled=True,
        membership__is_active=True,
        membership__user__is_active=True,
        membership__role__in=DIGEST_ROLES,
    )


def digests_send_due(*, now: datetime.datetime | None = None, batch_size: int | None = None) -> int:
    """Queues every due digest, a batch at a time (see the module's docstring); returns how many."""
    now = now or timezone.now()
    batch_size = batch_size or settings.DIGESTS_BATCH_SIZE
    digest_preferences_ensure(now=now)
    queued = 0
    while True:
        try:
            done = _send_batch(now=now, batch_size=batch_size)
        except ClaimLost:
            logger.info("A digest batch was claimed by another sweep meanwhile; left to the next tick")
            break
        if done is None:
            break
        queued += done
    if queued:
        logger.info("Queued %d weekly digests", queued)
    return queued


@transaction.atomic
def _send_batch(*, now: datetime.datetime, batch_size: int) -> int | None:
    """One batch (steps 1 to 4 of the module's docstring); None when nothing is due."""
    batch = list(
        DigestPreference.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(_due(now))
        .select_related(
            "organization", "membership__user", "membership__organization", "membership__home_clinic"
        )
        .order_by("organization_id", "next_digest_at", "pk")[:batch_size]
    )
    if not batch:
        return None
    weeks: dict[int, str] = {}
    following: dict[int, datetime.datetime | None] = {}
    for preference in batch:
        assert preference.next_digest_at is not None  # filtered on next_digest_at__lte
        weeks[preference.pk] = digest_week(preference.next_digest_at, person_zone(preference.membership))
        following[preference.pk] = _next_at(preference, after=max(now, preference.next_digest_at))
    still_due = reduce(or_, (Q(pk=p.pk, next_digest_at=p.next_digest_at) for p in batch))
    claimed = DigestPreference.objects.filter(still_due).update(
        next_digest_at=Case(
            *(When(pk=pk, then=Value(at)) for pk, at in following.items()), output_field=DateTimeField()
        ),
        last_week=Case(
            *(When(pk=pk, then=Value(week)) for pk, week in weeks.items()), output_field=CharField()
        ),
    )
    if claimed != len(batch):
        raise ClaimLost
    for _, rows in groupby(batch, key=lambda preference: preference.organization_id):
        preferences = list(rows)
        _queue(
            organization=preferences[0].organization,
            recipients=[(p.membership, set(p.sections_off), weeks[p.pk]) for p in preferences],
            now=now,
        )
    return len(batch)


def digest_links(digest: Digest) -> dict[str, str]:
    """The email's links: the same digest as a page, and the person's preferences, in its organization."""
    organization_id = digest.organization.pk
    return {
        "view_url": site_url(
            reverse("digests:view", kwargs={"organization_id": organization_id}) + f"?week={digest.week}"
        ),
        "preferences_url": site_url(
            reverse("digests:preferences", kwargs={"organization_id": organization_id})
        ),
    }


def _queue(
    *,
    organization: Organization,
    recipients: list[tuple[Membership, set[str], str]],
    now: datetime.datetime,
    test: bool = False,
) -> list[OutboundEmail]:
    """Builds the recipients' digests and queues one email each; people without an address are left out."""
    with_address = [recipient for recipient in recipients if recipient[0].user.email]
    if not with_address:
        return []
    digests = digests_build(organization=organization, recipients=with_address, now=now)
    messages = [
        EmailToQueue(
            idempotency_key=digest_key(
                organization_id=organization.pk,
                user_id=digest.membership.user_id,
                week=digest.week,
                test=test,
            ),
            to=digest.membership.user.email,
            context={"digest": digest, **digest_links(digest)},
        )
        for digest in digests
    ]
    return email_enqueue_many(
        organization=organization,
        kind=EMAIL_KIND,
        template=EMAIL_TEMPLATE,
        messages=messages,
        unsubscribe=True,
    )


@transaction.atomic
def digest_send_test(*, membership: Membership) -> tuple[OutboundEmail, bool]:
    """Queues the person's digest as it stands now: one test send per week, apart from the scheduled one.

    Returns the email and whether it was queued now (False: this week's test
    send was queued before, and is returned unchanged).
    """
    if membership.role not in DIGEST_ROLES:
        raise PermissionDenied("Weekly digests are for therapists, liaisons and admins.")
    if not membership.user.email:
        raise ValidationError("Add an email address to your account first: the digest has nowhere to go.")
    now = timezone.now()
    week = digest_week(now, person_zone(membership))
    key = digest_key(
        organization_id=membership.organization_id, user_id=membership.user_id, week=week, test=True
    )
    before = OutboundEmail.objects.filter(idempotency_key=key).exists()
    preference = digest_preference_for(membership=membership)
    (email,) = _queue(
        organization=membership.organization,
        recipients=[(membership, set(preference.sections_off), week)],
        now=now,
        test=True,
    )
    return email, not before


def digests_make_due(*, now: datetime.datetime) -> int:
    """Makes every digest that is on due at `now` (`send_digests --due-now`, for the demo and trials).

    The digest then sent is this week's (its key names the week of `now`), so
    a person who already had this week's gets none; one statement.
    """
    digest_preferences_ensure(now=now)
    return DigestPreference.objects.filter(enabled=True, next_digest_at__isnull=False).update(
        next_digest_at=now
    )
