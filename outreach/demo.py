"""Demo touches for `manage.py seed_demo`: a year of each organization's outreach.

Each source that is held to a cadence gets touches in roughly its rhythm
(its tier's interval, a little early or late), from its owner or another
liaison; some sources were let slip, so right after seeding the attention
page has lapsed sources to show, and the referrals demo leaves a few regular
sources slipping, which the daily job reports as declining. Office lunches and
in-services are logged against the practice, often with its gatekeeper.

Like the referrals demo, an organization is seeded once, in one transaction:
one that already has touches is left as it is. The flags are then computed by
the same service as the daily job.

Follow-ups fall out of recent touches, so which days they are due on is left
to chance; each person who makes touches therefore also has one overdue, one
due today and one due in a week, on their own calendar (their home clinic's,
as My follow-ups reads it), whatever the day of seeding.
"""

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from clinics.clock import local_date, organization_zone, person_zone
from clinics.history import history_record_bulk
from clinics.models import Membership, Organization, Role
from physicians.models import Gatekeeper, Physician, Stage

from .flags import flags_update
from .models import FollowUp, Touch, TouchKind, TouchOutcome
from .selectors import outreach_settings_get

HISTORY_DAYS = 365
# Organizations and how often their liaisons reach out, relative to cadence:
# a busier team touches sources more often than the cadence asks.
PACE = {"summit": 0.38, "harbor": 0.6}
# Share of recent touches that name a next step.
FOLLOW_UP_SHARE = 0.35
# Share of sources whose liaison stopped calling some time ago.
LET_SLIP = 0.18
KIND_WEIGHTS = {
    TouchKind.CALL: 34,
    TouchKind.OFFICE_VISIT: 26,
    TouchKind.EMAIL: 16,
    TouchKind.LETTER: 4,
    TouchKind.GIFT: 3,
    TouchKind.EVENT: 4,
}
PRACTICE_KIND_WEIGHTS = {TouchKind.LUNCH: 6, TouchKind.IN_SERVICE: 3, TouchKind.OFFICE_VISIT: 4}
OUTCOME_WEIGHTS = {
    TouchOutcome.POSITIVE: 45,
    TouchOutcome.NEUTRAL: 35,
    TouchOutcome.CONCERN: 6,
    TouchOutcome.NOT_REACHED: 14,
}
NOTES = {
    TouchKind.CALL: ["Checked in on scheduling speed.", "Asked how updates are landing.", "Left a message."],
    TouchKind.OFFICE_VISIT: [
        "Dropped off program flyers.",
        "Met briefly between patients.",
        "Reviewed our post-op protocols.",
    ],
    TouchKind.EMAIL: ["Sent the quarterly outcomes summary.", "Shared the new Saturday hours."],
    TouchKind.LETTER: ["Thank-you note for recent referrals."],
    TouchKind.GIFT: ["Holiday cookies for the front office."],
    TouchKind.EVENT: ["Talked at the community 5K booth.", "Met at the county medical society dinner."],
    TouchKind.LUNCH: ["Lunch-and-learn on ACL return to sport.", "Lunch for the whole office."],
    TouchKind.IN_SERVICE: ["In-service on vestibular screening.", "In-service on fall-risk screening."],
}
FOLLOW_UP_NOTES = [
    "Send the knee protocol they asked for.",
    "Book a lunch with the office manager.",
    "Check whether the fax line issue is fixed.",
    "Invite to the spring in-service.",
]


def seed(stdout=None) -> None:
    for organization in Organization.objects.filter(slug__in=PACE):
        seed_organization(organization)
        if stdout is not None:
            count = Touch.objects.for_organization(organization).count()
            stdout.write(f"{organization.name}: {count} touches")


@transaction.atomic
def seed_organization(organization: Organization) -> None:
    if Touch.objects.for_organization(organization).exists():
        return
    rng = random.Random(f"rapport-demo-touches-{organization.slug}")  # noqa: S311 (demo data, not secrets)
    now = timezone.now()
    staff = list(
        get_user_model()
        .objects.filter(
            memberships__organization=organization,
            memberships__is_active=True,
            memberships__role__in=[Role.LIAISON, Role.ADMIN],
        )
        .order_by("username")
    )
    if not staff:
        return
    sources = list(
        Physician.objects.for_organization(organization)
        .filter(is_active=True)
        .exclude(stage=Stage.PROSPECT)
        .select_related("owner")
        .prefetch_related("affiliations")
        .order_by("last_name", "first_name", "pk")
    )
    gatekeepers: dict[int, list[Gatekeeper]] = {}
    for gatekeeper in Gatekeeper.objects.for_organization(organization).filter(is_active=True).order_by("pk"):
        gatekeepers.setdefault(gatekeeper.practice_id, []).append(gatekeeper)

    cadences = outreach_settings_get(organization=organization)
    touches = []
    for physician in sources:
        cadence = physician.contact_every_days or cadences.cadence_days_for_tier(physician.tier)
        maker = physician.owner or rng.choice(staff)
        # A slipped source was last reached between one and three cadences ago.
        stop_after = now - timedelta(days=cadence * rng.uniform(1.1, 3.0)) if rng.random() < LET_SLIP else now
        moment = now - timedelta(days=HISTORY_DAYS * rng.uniform(0.6, 1.0))
        while True:
            moment += timedelta(days=cadence * PACE[organization.slug] * rng.uniform(0.5, 1.5))
            if moment > stop_after:
                break
            touches.append(_touch(rng, organization, physician, maker, moment, now))
        primary = next((a.practice_id for a in physician.affiliations.all() if a.is_primary), None)
        if primary and rng.random() < 0.5:
            # An office lunch or in-service: the practice is the party, often with its gatekeeper.
            kind = _pick(rng, PRACTICE_KIND_WEIGHTS)
            moment = min(stop_after, now) - timedelta(days=rng.uniform(5, 200))
            touches.append(
                Touch(
                    organization=organization,
                    practice_id=primary,
                    gatekeeper=rng.choice(gatekeepers[primary]) if gatekeepers.get(primary) else None,
                    kind=kind,
                    occurred_at=moment,
                    made_by=maker,
                    logged_by=maker,
                    notes=rng.choice(NOTES[kind]),
                    outcome=TouchOutcome.POSITIVE,
                )
            )
    Touch.objects.bulk_create(touches, batch_size=1000)
    for touch in touches:
        touch._history_user = touch.made_by  # type: ignore[attr-defined]
    history_record_bulk(touches, user=None, created=True)
    _follow_ups(rng, organization, touches, now)
    flags_update(organization=organization, now=now)


def _pick(rng: random.Random, weighted: dict):
    return rng.choices(list(weighted), weights=list(weighted.values()))[0]


def _touch(
    rng: random.Random, organization, physician: Physician, maker, moment: datetime, now: datetime
) -> Touch:
    kind = _pick(rng, KIND_WEIGHTS)
    outcome = _pick(rng, OUTCOME_WEIGHTS)
    return Touch(
        organization=organization,
        physician=physician,
        kind=kind,
        occurred_at=min(moment.replace(hour=rng.randint(15, 23), minute=rng.choice([0, 15, 30, 45])), now),
        made_by=maker,
        logged_by=maker,
        notes=rng.choice(NOTES[kind]) if rng.random() < 0.7 else "",
        outcome=outcome,
    )


def _follow_ups(rng: random.Random, organization: Organization, touches: list[Touch], now: datetime) -> None:
    """Next steps from a third of the last three weeks' touches: some overdue by now, most ahead.

    Their dates are the organization's, as all demo data's are; the standing
    ones are on their owner's own calendar, as My follow-ups reads it.
    """
    zone = organization_zone(organization)
    zones = _owner_zones(organization)

    def owners_day(moment: datetime, owner_id: int) -> date:
        return local_date(moment, zones.get(owner_id, zone))

    due = dict(_standing_follow_ups(touches, now, owners_day))
    recent = sorted(
        (touch for touch in touches if touch.made_by_id and now - touch.occurred_at < timedelta(days=21)),
        key=lambda touch: touch.occurred_at,
    )
    for touch in recent:
        if rng.random() >= FOLLOW_UP_SHARE or touch in due:
            continue
        days = rng.choice([2, 4, 7, 7, 10, 14, 21])
        due[touch] = local_date(touch.occurred_at, zone) + timedelta(days=days)
    follow_ups = []
    for touch, due_on in sorted(due.items(), key=lambda item: (item[0].occurred_at, item[0].made_by_id)):
        # Every demo touch has its maker; the test only narrows the type.
        if touch.made_by_id is None:
            continue
        follow_ups.append(
            FollowUp(
                organization=organization,
                touch=touch,
                owner_id=touch.made_by_id,
                due_on=due_on,
                note=rng.choice(FOLLOW_UP_NOTES),
            )
        )
    FollowUp.objects.bulk_create(follow_ups)


def _owner_zones(organization: Organization) -> dict[int, ZoneInfo]:
    """Each member's own time zone (clinics.clock.person_zone)."""
    memberships = Membership.objects.filter(organization=organization).select_related(
        "home_clinic", "organization"
    )
    return {membership.user_id: person_zone(membership) for membership in memberships}


def _standing_follow_ups(
    touches: list[Touch], now: datetime, owners_day: Callable[[datetime, int], date]
) -> list[tuple[Touch, date]]:
    """For each maker, from their latest touches: one follow-up due in a week, one due today, one overdue."""
    latest_first: dict[int, list[Touch]] = {}
    for touch in sorted(touches, key=lambda touch: touch.occurred_at, reverse=True):
        if touch.made_by_id:
            latest_first.setdefault(touch.made_by_id, []).append(touch)
    standing = []
    for owner_id, theirs in latest_first.items():
        today = owners_day(now, owner_id)
        before = [touch for touch in theirs if owners_day(touch.occurred_at, owner_id) < today]
        older = [
            touch for touch in before if owners_day(touch.occurred_at, owner_id) <= today - timedelta(days=4)
        ]
        next_week = theirs[0]
        due_today = next((touch for touch in before if touch is not next_week), None)
        overdue = next((touch for touch in older if touch not in (next_week, due_today)), None)
        standing.append((next_week, today + timedelta(days=7)))
        if due_today is not None:
            standing.append((due_today, today))
        if overdue is not None:
            standing.append((overdue, today - timedelta(days=1)))
    return standing
