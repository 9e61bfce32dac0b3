"""Flags on slipping sources: computed for a whole organization in a fixed number of queries.

`flags_update` is the daily job's service (and runs for a handful of
physicians right after a touch is logged):

1. Lock the organization's row (no-key, so other writes go on), so two runs
   for one organization, or a run and a merge, queue up instead of racing.
2. Read every source held to a cadence with its last contact (two correlated
   subqueries: touches with the physician, and practice-level touches at the
   physician's primary practice) in one query.
3. Read every active physician's referral counts for the last 60 days and
   the 365 days before, in one grouped query.
4. Classify each source with the rules in `cadence.py` and compare with the
   open flags: open the new, update those whose severity or figures changed,
   close those whose condition cleared. Writes are bulk statements, so a run
   costs the same number of queries for 10 physicians as for 10,000, and a
   second run on the same day finds nothing to change.
"""

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import batched
from typing import Any

from django.db import transaction
from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from clinics.clock import local_date, organization_today, organization_zone
from clinics.models import Organization
from physicians.models import Affiliation, Physician, Stage
from physicians.services import register_physician_changed, register_physician_merging
from referrals.models import Referral
from referrals.selectors import received, referral_count

from .cadence import BASELINE_DAYS, RECENT_DAYS, ReferralTrend, contact_severity
from .models import NOT_CONTACT_KINDS, Flag, FlagKind, FlagSeverity, Touch
from .selectors import outreach_settings_get

WRITE_BATCH = 500
PAST_FLAGS_SHOWN = 3


@dataclass(frozen=True)
class FlagChanges:
    opened: int = 0
    updated: int = 0
    closed: int = 0


def _latest_contact(**lookup) -> Subquery:
    contacts = (
        Touch.objects.filter(organization_id=OuterRef("organization_id"), **lookup)
        .exclude(kind__in=NOT_CONTACT_KINDS)
        .order_by("-occurred_at")
        .values("occurred_at")[:1]
    )
    return Subquery(contacts)


def physicians_with_last_contact(*, organization: Organization) -> QuerySet[Physician]:
    """Physicians annotated with their last contact, direct and through their primary practice.

    A touch with a practice, or with a gatekeeper there, counts as contact with
    every physician whose primary practice it is: gatekeepers route the
    referrals, and an office lunch reaches the whole office. Service
    announcements never count (NOT_CONTACT_KINDS).
    """
    return Physician.objects.filter(organization=organization).annotate(
        last_direct_contact_at=_latest_contact(physician=OuterRef("pk")),
        last_practice_contact_at=_latest_contact(
            practice__affiliations__physician=OuterRef("pk"), practice__affiliations__is_primary=True
        ),
    )


def _latest(*moments: datetime.datetime | None) -> datetime.datetime | None:
    return max((moment for moment in moments if moment), default=None)


def last_contact_at(physician: Physician) -> datetime.datetime | None:
    """The later of a physician's two annotated contacts (see physicians_with_last_contact)."""
    # Annotations of physicians_with_last_contact, unknown to the model's type.
    return _latest(physician.last_direct_contact_at, physician.last_practice_contact_at)  # type: ignore[attr-defined]


def physicians_reached(*, touch: Touch) -> list[int]:
    """The physicians whose contact a touch renews: its physician, and those of its practice."""
    reached = {touch.physician_id} if touch.physician_id else set()
    if touch.practice_id:
        reached.update(
            Affiliation.objects.filter(
                organization_id=touch.organization_id, practice_id=touch.practice_id, is_primary=True
            ).values_list("physician_id", flat=True)
        )
    return sorted(reached)


def _contact_flags(
    *, organization: Organization, now: datetime.datetime, physician_ids: Iterable[int] | None
) -> dict[tuple[int, str], tuple[str, dict]]:
    sources = (
        physicians_with_last_contact(organization=organization)
        .filter(is_active=True)
        .exclude(stage=Stage.PROSPECT)
    )
    if physician_ids is not None:
        sources = sources.filter(pk__in=physician_ids)
    # The organization's calendar (clinics/clock.py), so a source's severity
    # does not depend on who, or which server, triggered the evaluation.
    zone = organization_zone(organization)
    today = local_date(now, zone)
    cadences = outreach_settings_get(organization=organization)
    wanted: dict[tuple[int, str], tuple[str, dict[str, Any]]] = {}
    # Tuples, not model instances: this loop sees every source of the organization.
    rows = sources.order_by().values_list(  # type: ignore[misc]  # annotated names, unknown to the plugin
        "pk", "tier", "contact_every_days", "created_at", "last_direct_contact_at", "last_practice_contact_at"
    )
    for pk, tier, own_cadence, created_at, direct, via_practice in rows:
        cadence_days = own_cadence or cadences.cadence_days_for_tier(tier)
        last_contact = _latest(direct, via_practice)
        since = local_date(last_contact or created_at, zone)
        severity = contact_severity(days_since_contact=(today - since).days, cadence_days=cadence_days)
        if severity:
            # Dates, not a day count, so the row changes only when the severity
            # or the facts change, not every day.
            evidence = {"cadence_days": cadence_days, "since": since.isoformat(), "ever": bool(last_contact)}
            wanted[pk, FlagKind.CONTACT_LAPSED] = (severity, evidence)
    return wanted


def _declining_flags(
    *,
    organization: Organization,
    now: datetime.datetime,
    physician_ids: Iterable[int] | None,
    already_flagged: set[int],
) -> dict[tuple[int, str], tuple[str, dict]]:
    recent_from = now - datetime.timedelta(days=RECENT_DAYS)
    baseline_from = recent_from - datetime.timedelta(days=BASELINE_DAYS)
    referrals = Referral.objects.filter(
        received(since=baseline_from, until=now),
        organization=organization,
        physician__isnull=False,
        physician__is_active=True,
    )
    if physician_ids is not None:
        referrals = referrals.filter(physician_id__in=physician_ids)
    # Counted as the physician's page counts them (referrals.selectors' funnel).
    counts = (
        referrals.values("physician_id")
        .annotate(
            recent=referral_count(since=recent_from, until=now),
            baseline=referral_count(since=baseline_from, until=recent_from),
        )
        .order_by()
    )
    wanted: dict[tuple[int, str], tuple[str, dict[str, Any]]] = {}
    for row in counts:
        trend = ReferralTrend(recent=row["recent"], baseline=row["baseline"])
        if trend.is_declining(already_flagged=row["physician_id"] in already_flagged):
            evidence = {
                "recent": trend.recent,
                "baseline": trend.baseline,
                "expected": round(trend.expected, 1),
                "p_value": round(trend.p_value, 3),
            }
            wanted[row["physician_id"], FlagKind.REFERRALS_DECLINING] = (FlagSeverity.DECLINING, evidence)
    return wanted


@transaction.atomic
def flags_update(
    *,
    organization: Organization,
    now: datetime.datetime | None = None,
    physician_ids: Iterable[int] | None = None,
) -> FlagChanges:
    """Opens, updates and closes an organization's flags to match its sources today (see module doc)."""
    now = now or timezone.now()
    if physician_ids is not None:
        physician_ids = list(physician_ids)
        if not physician_ids:
            return FlagChanges()
    # No-key: a plain FOR UPDATE would also hold up every insert that points at
    # the organization (each checks its foreign key with FOR KEY SHARE).
    Organization.objects.select_for_update(no_key=True).filter(pk=organization.pk).exists()

    open_flags = Flag.objects.filter(organization=organization, closed_at__isnull=True)
    if physician_ids is not None:
        open_flags = open_flags.filter(physician_id__in=physician_ids)
    current = {
        (flag.physician_id, flag.kind): flag
        for flag in open_flags.only("pk", "physician_id", "kind", "severity", "evidence")
    }
    already_declining = {pk for pk, kind in current if kind == FlagKind.REFERRALS_DECLINING}

    wanted = _contact_flags(organization=organization, now=now, physician_ids=physician_ids)
    wanted |= _declining_flags(
        organization=organization, now=now, physician_ids=physician_ids, already_flagged=already_declining
    )

    to_open, to_update = [], []
    # Most changes are a severity crossing a threshold with the same figures:
    # one UPDATE per severity is far cheaper than bulk_update's CASE per row.
    escalated: dict[str, list[int]] = defaultdict(list)
    for (physician_id, kind), (severity, evidence) in wanted.items():
        flag = current.pop((physician_id, kind), None)
        if flag is None:
            to_open.append(
                Flag(
                    organization=organization,
                    physician_id=physician_id,
                    kind=kind,
                    severity=severity,
                    evidence=evidence,
                    opened_at=now,
                )
            )
        elif flag.evidence != evidence:
            flag.severity, flag.evidence = severity, evidence
            to_update.append(flag)
        elif flag.severity != severity:
            escalated[severity].append(flag.pk)
    Flag.objects.bulk_create(to_open, batch_size=WRITE_BATCH)
    Flag.objects.bulk_update(to_update, ["severity", "evidence"], batch_size=WRITE_BATCH)
    for severity, flag_ids in escalated.items():
        for batch in batched(flag_ids, WRITE_BATCH, strict=False):
            Flag.objects.filter(pk__in=batch).update(severity=severity)
    to_close = [flag.pk for flag in current.values()]
    for batch in batched(to_close, WRITE_BATCH, strict=False):
        Flag.objects.filter(pk__in=batch).update(closed_at=now)
    updated = len(to_update) + sum(len(flag_ids) for flag_ids in escalated.values())
    return FlagChanges(opened=len(to_open), updated=updated, closed=len(to_close))


@register_physician_changed
def _physician_changed(physician: Physician) -> None:
    """A new tier, cadence, stage or deactivation shows on Attention now, not tomorrow morning."""
    flags_update(organization=physician.organization, physician_ids=[physician.pk])


@register_physician_merging
def _duplicate_merging(keep: Physician, duplicate: Physician) -> None:
    """The duplicate's open flags close before they move: a physician has one open flag of each kind.

    The change hook then evaluates the physician kept, with the touches and
    referrals of both.
    """
    Flag.objects.filter(physician=duplicate, closed_at__isnull=True).update(closed_at=timezone.now())


def _listed_flags(organization: Organization, *, kind: str | None, include_due_soon: bool) -> QuerySet[Flag]:
    """The open flags that put a source on the Attention list."""
    flags = Flag.objects.filter(organization=organization, closed_at__isnull=True)
    if kind:
        flags = flags.filter(kind=kind)
    if not include_due_soon:
        flags = flags.exclude(severity=FlagSeverity.DUE_SOON)
    return flags


def sources_needing_attention(
    *,
    organization: Organization,
    now: datetime.datetime,
    owner_id: int | None = None,
    kind: str | None = None,
    include_due_soon: bool = False,
) -> QuerySet[Physician]:
    """Physicians with open flags, most at stake first: tier A before C, then past year's referrals.

    Each carries `open_flags`, `referrals_last_year`, `primary_practice_name`
    and its last contact (see physicians_with_last_contact).
    """
    flags = _listed_flags(organization, kind=kind, include_due_soon=include_due_soon)
    referrals_last_year = (
        Referral.objects.filter(
            received(since=now - datetime.timedelta(days=365)),
            organization_id=OuterRef("organization_id"),
            physician_id=OuterRef("pk"),
        )
        .values("physician_id")
        .annotate(count=referral_count())
        .values("count")
    )
    primary_practice = Affiliation.objects.filter(physician_id=OuterRef("pk"), is_primary=True).values(
        "practice__name"
    )[:1]
    sources = (
        physicians_with_last_contact(organization=organization)
        .filter(is_active=True, pk__in=flags.values("physician_id"))
        .annotate(
            referrals_last_year=Coalesce(Subquery(referrals_last_year), 0),
            primary_practice_name=Subquery(primary_practice),
        )
        .select_related("owner")
        .prefetch_related(
            # The organization comes with each flag for its reason's "days ago" (Flag.reason).
            Prefetch(
                "flags", queryset=flags.select_related("organization").order_by("kind"), to_attr="open_flags"
            )
        )
        .order_by("tier", "-referrals_last_year", "last_name", "first_name", "pk")
    )
    if owner_id is not None:
        sources = sources.filter(owner_id=owner_id)
    return sources


@dataclass(frozen=True)
class AttentionCounts:
    everyone: int
    mine: int


def attention_counts(*, organization: Organization, owner_id: int) -> AttentionCounts:
    """How many sources the Attention list shows, and how many of them `owner_id` owns: one query.

    The list as it opens (every signal, contact due soon left out) and with
    "Only my sources": the same sources `sources_needing_attention` lists.
    """
    flagged = _listed_flags(organization, kind=None, include_due_soon=False)
    counts = Physician.objects.filter(
        organization=organization, is_active=True, pk__in=flagged.values("physician_id")
    ).aggregate(everyone=Count("pk"), mine=Count("pk", filter=Q(owner_id=owner_id)))
    return AttentionCounts(**counts)


# Why a source that was just contacted can stay on Attention.
DECLINE_STAYS = "A referral decline clears only when their referrals come back, not with a touch."


def physician_open_flags(*, organization: Organization, physician_id: int) -> list[Flag]:
    return list(
        Flag.objects.filter(organization=organization, physician_id=physician_id, closed_at__isnull=True)
        .select_related("organization")
        .order_by("kind")
    )


def touch_flag_changes(*, before: list[Flag], after: list[Flag]) -> list[str]:
    """What logging a touch did to a source's open flags, in sentences for the page that follows.

    A liaison who logs a call and sees the source still listed, with nothing
    said, logs it again: so this says which flag closed and why one stays.
    """
    was = {flag.kind for flag in before}
    now = {flag.kind: flag for flag in after}
    said = []
    if FlagKind.CONTACT_LAPSED in was and FlagKind.CONTACT_LAPSED not in now:
        said.append("The contact flag is closed.")
    if contact := now.get(FlagKind.CONTACT_LAPSED):
        # A touch dated long enough ago does not bring contact within the cadence.
        said.append(f"Contact is still {contact.get_severity_display().lower()}: {contact.reason}.")
    if FlagKind.REFERRALS_DECLINING in now:
        said.append(f"They stay on Attention for referrals declining. {DECLINE_STAYS}")
    elif was and not now:
        said.append("They are off the Attention list.")
    return said


@dataclass(frozen=True)
class ContactStatus:
    cadence_days: int
    own_cadence: bool
    held_to_cadence: bool
    last_contact_at: datetime.datetime | None
    # In the organization's calendar, as the flags' "N days ago" beside it.
    days_since_contact: int | None
    open_flags: list[Flag]
    past_flags: list[Flag]


def physician_contact_status(*, organization: Organization, physician_id: int) -> ContactStatus:
    """A physician's cadence, last contact, open and latest closed flags, for their page (four queries)."""
    physician = physicians_with_last_contact(organization=organization).get(pk=physician_id)
    flags = Flag.objects.filter(organization=organization, physician_id=physician_id).select_related(
        "organization"
    )
    last_contact = last_contact_at(physician)
    zone = organization_zone(organization)
    return ContactStatus(
        cadence_days=physician.contact_every_days
        or outreach_settings_get(organization=organization).cadence_days_for_tier(physician.tier),
        own_cadence=physician.contact_every_days is not None,
        held_to_cadence=physician.is_active and physician.stage != Stage.PROSPECT,
        last_contact_at=last_contact,
        days_since_contact=(
            (organization_today(organization) - local_date(last_contact, zone)).days if last_contact else None
        ),
        open_flags=list(flags.filter(closed_at__isnull=True)),
        past_flags=list(
            flags.filter(closed_at__isnull=False).order_by("-closed_at", "-pk")[:PAST_FLAGS_SHOWN]
        ),
    )
