"""Keeping the rollups (analytics/models.py) equal to what they summarize.

1. Every write to referrals (their details, history, plans, and the
   outcome scores, NPS answers and letters about them) calls
   `referral_facts_refresh` for the referrals it wrote, every write to
   visits and payments `referral_facts_totals_refresh`, and every touch
   logged or removed `touch_days_refresh`, inside the writing transaction,
   through the hooks the lower apps offer
   (`referrals.services.register_referrals_changed`,
   `billing.services.register_referral_totals_changed`,
   `outreach.services.register_touches_changed`): a rollup row is rewritten
   from the rows it summarizes, never nudged by a delta, so a retried or
   repeated call is harmless.
2. A physician merge moves these rows with the physician's others
   (`physicians.services.related_rows_move`), as it moves referrals and touches.
3. `rollups_verify` recomputes an organization's rollups from scratch,
   compares, and with `repair` rewrites what differs: the nightly beat job
   (`analytics.verify_rollups`) and `manage.py rebuild_analytics` use it.
"""

import csv
import io
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast
from zoneinfo import ZoneInfo

from django.db import connection, models, transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import TruncDate

from clinics.clock import local_date, local_day_bounds
from clinics.models import Organization
from letters.selectors import first_letter_after, first_seen_at
from outcomes.instruments import BY_CODE
from outcomes.selectors import OutcomeChange, nps_score_of_referral, referral_headline_changes
from outreach.models import Touch
from referrals.models import PlanOfCare, Referral, ReferralSettings, Status, StatusChange
from referrals.selectors import AT_OR_BEYOND
from referrals.sla import contact_due_at

from .models import ReferralFact, TouchDay

BATCH = 2000
FACT_FIELDS = [
    field.attname
    for field in ReferralFact._meta.concrete_fields
    if field.attname not in ("referral_id", "organization_id")
]


# The contact deadline's business days when the organization never saved its referral settings.
DEFAULT_CONTACT_DAYS = ReferralSettings._meta.get_field("contact_sla_business_days").get_default()


@dataclass
class _Milestones:
    """What a referral's history says, read as `referrals.selectors` defines it (reached, lost_from)."""

    reached: dict[str, datetime]
    left_received: datetime | None = None
    lost_from: str = ""


MILESTONE_STEPS = (Status.CONTACTED, Status.SCHEDULED, Status.EVALUATED, Status.DISCHARGED)


def _milestones(referral_ids: Collection[int]) -> dict[int, _Milestones]:
    """Each referral's milestones from its history, oldest move first (one query on the history's index).

    A step is reached the first time a move lands on it or beyond
    (`AT_OR_BEYOND`); it leaves "received" with its first move from there;
    `lost_from` is where its latest loss took it from.
    """
    found: dict[int, _Milestones] = {}
    moves = (
        StatusChange.objects.filter(referral_id__in=list(referral_ids))
        .order_by("referral_id", "changed_at", "pk")
        .values_list("referral_id", "from_status", "to_status", "changed_at")
    )
    for referral_id, from_status, to_status, changed_at in moves:
        milestones = found.setdefault(referral_id, _Milestones(reached={}))
        for step in MILESTONE_STEPS:
            if to_status in AT_OR_BEYOND[step]:
                milestones.reached.setdefault(step, changed_at)
        if from_status == Status.RECEIVED and milestones.left_received is None:
            milestones.left_received = changed_at
        if to_status == Status.LOST:
            milestones.lost_from = from_status
    return found


def _first_plans(referral_ids: Collection[int]) -> dict[int, tuple[date, date | None]]:
    """Each referral's first plan of care (by first treatment day): its start and signature (one query)."""
    plans: dict[int, tuple[date, date | None]] = {}
    for referral_id, starts_on, signed_on in (
        PlanOfCare.objects.filter(referral_id__in=list(referral_ids))
        .order_by("referral_id", "starts_on", "pk")
        .values_list("referral_id", "starts_on", "signed_on")
    ):
        plans.setdefault(referral_id, (starts_on, signed_on))
    return plans


def _headline_changes(referrals: Iterable[tuple[int, int]]) -> dict[int, OutcomeChange]:
    """The headline outcome changes of (referral id, organization id) pairs: one query per organization."""
    by_organization: dict[int, list[int]] = defaultdict(list)
    for referral_id, organization_id in referrals:
        by_organization[organization_id].append(referral_id)
    changes: dict[int, OutcomeChange] = {}
    for organization_id, ids in by_organization.items():
        changes |= referral_headline_changes(organization_id=organization_id, referral_ids=ids)
    return changes


def _facts_from_scratch(referral_ids: Collection[int]) -> list[ReferralFact]:
    """The facts of these referrals, computed from them, their history, plans, totals and care (four queries).

    The NPS answer and the first letter after the patient was seen come with
    the referrals (the outcomes' and letters' own subqueries); the outcome
    change is the outcomes app's, from the scores.
    """
    rows = list(
        Referral.objects.filter(pk__in=list(referral_ids))
        .annotate(
            contact_days=Subquery(
                ReferralSettings.objects.filter(organization_id=OuterRef("organization_id")).values(
                    "contact_sla_business_days"
                )
            ),
            nps_score=nps_score_of_referral(),
            seen_at=first_seen_at(),
        )
        .annotate(letter_sent_at=first_letter_after("seen_at"))
        .values(
            "pk",
            "organization_id",
            "organization__timezone",
            "clinic_id",
            "clinic__timezone",
            "received_at",
            "source_type",
            "physician_id",
            "referring_practice_id",
            "referring_taxonomy_code",
            "payer_id",
            "therapist_id",
            "status",
            "loss_reason",
            "first_appointment_at",
            "visits_attended",
            "billed_amount",
            "collected_amount",
            "contact_days",
            "nps_score",
            "letter_sent_at",
        )
    )
    histories = _milestones(referral_ids)
    outcomes = _headline_changes((row["pk"], row["organization_id"]) for row in rows)
    plans = _first_plans(referral_ids)
    zones: dict[str, ZoneInfo] = {}
    facts = []
    for row in rows:
        zone = zones.setdefault(row["organization__timezone"], ZoneInfo(row["organization__timezone"]))
        history = histories.get(row["pk"]) or _Milestones(reached={})
        reached = history.reached
        # Evaluated by its status with no history row (before history was kept): reached, time unknown.
        evaluated = Status.EVALUATED in reached or row["status"] in AT_OR_BEYOND[Status.EVALUATED]
        plan_starts, plan_signed = plans.get(row["pk"], (None, None))
        outcome = outcomes.get(row["pk"])
        facts.append(
            ReferralFact(
                referral_id=row["pk"],
                organization_id=row["organization_id"],
                received_at=row["received_at"],
                received_on=local_date(row["received_at"], zone),
                clinic_id=row["clinic_id"],
                source_type=row["source_type"],
                physician_id=row["physician_id"],
                practice_id=row["referring_practice_id"],
                specialty=row["referring_taxonomy_code"],
                payer_id=row["payer_id"],
                therapist_id=row["therapist_id"],
                status=row["status"],
                loss_reason=row["loss_reason"],
                lost_after=history.lost_from if row["status"] == Status.LOST else "",
                contacted_at=reached.get(Status.CONTACTED),
                scheduled_at=reached.get(Status.SCHEDULED),
                evaluated_at=reached.get(Status.EVALUATED),
                discharged_at=reached.get(Status.DISCHARGED),
                first_visit_at=(row["first_appointment_at"] or reached.get(Status.EVALUATED))
                if evaluated
                else None,
                left_received_at=history.left_received,
                contact_due_at=contact_due_at(
                    row["received_at"],
                    timezone_name=row["clinic__timezone"],
                    business_days=row["contact_days"] or DEFAULT_CONTACT_DAYS,
                ),
                visits=row["visits_attended"],
                billed=row["billed_amount"],
                collected=row["collected_amount"],
                plan_starts_on=plan_starts,
                plan_signed_on=plan_signed,
                outcome_instrument=outcome.instrument_code if outcome else "",
                outcome_improvement=outcome.improvement if outcome else None,
                outcome_share_of_range=BY_CODE[outcome.instrument_code].share_of_range(outcome.improvement)
                if outcome
                else None,
                outcome_mcid_reached=outcome.reached_mcid if outcome else None,
                nps_score=row["nps_score"],
                letter_sent_at=row["letter_sent_at"],
            )
        )
    return facts


def _batches(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def referral_facts_refresh(*, referral_ids: Collection[int]) -> None:
    """Rewrites the facts of these referrals from the referrals as they now stand (5 queries per 2,000).

    Four reads compute them (the referrals with their NPS and letters, their
    history, their plans, their outcome scores), one upsert writes them. Called inside the
    writing transaction: the writer holds the referrals' row locks, so two
    writers of one referral rewrite its facts one after the other.
    """
    ids = sorted(set(referral_ids))
    for batch in _batches(ids):
        ReferralFact.objects.bulk_create(
            _facts_from_scratch(batch),
            update_conflicts=True,
            unique_fields=["referral"],
            update_fields=FACT_FIELDS,
        )


def referral_facts_totals_refresh(*, referral_ids: Collection[int]) -> None:
    """Copies these referrals' visit and money totals into their facts (one UPDATE per 2,000).

    The billing app recomputes the totals on every write to visits and
    payments; nothing else of a referral's facts depends on them.
    """
    ids = sorted(set(referral_ids))
    totals = Referral.objects.filter(pk=OuterRef("referral_id"))
    for batch in _batches(ids):
        ReferralFact.objects.filter(referral_id__in=batch).update(
            visits=Subquery(totals.values("visits_attended")[:1]),
            billed=Subquery(totals.values("billed_amount")[:1]),
            collected=Subquery(totals.values("collected_amount")[:1]),
        )


def touch_days_refresh(*, touches: Sequence[Touch]) -> None:
    """Rewrites the day counts these touches fall in, recounted from the touches (2 queries per organization).

    The cells rewritten are those of the touches' days (the organization's)
    that name one of their physicians or practices: deleted, then recounted
    from the touches with the same condition, so each cell ends as the count
    of the touches it stands for, whoever else logged one meanwhile.
    """
    by_organization: dict[int, list[Touch]] = defaultdict(list)
    for touch in touches:
        by_organization[touch.organization_id].append(touch)
    for logged in by_organization.values():
        # The services' touches carry their organization; a query only for one that does not.
        organization = logged[0].organization
        zone = ZoneInfo(organization.timezone)
        days = {local_date(touch.occurred_at, zone) for touch in logged}
        physicians = {touch.physician_id for touch in logged if touch.physician_id}
        practices = {touch.practice_id for touch in logged if touch.practice_id}
        _touch_cells_rewrite(organization, zone, days=days, physicians=physicians, practices=practices)


def _touch_cells_rewrite(
    organization: Organization,
    zone: ZoneInfo,
    *,
    days: Collection[date],
    physicians: Collection[int] | None,
    practices: Collection[int] | None,
) -> None:
    """Deletes and recounts the cells of `days` naming one of `physicians` or `practices` (None: any)."""
    parties = Q()
    if physicians is not None or practices is not None:
        parties = Q(physician_id__in=list(physicians or ())) | Q(practice_id__in=list(practices or ()))
    TouchDay.objects.for_organization(organization).filter(parties, day__in=list(days)).delete()
    TouchDay.objects.bulk_create(
        _touch_days_from_scratch(organization, zone, days=days, parties=parties), batch_size=BATCH
    )


def _touch_days_from_scratch(
    organization: Organization, zone: ZoneInfo, *, days: Collection[date], parties: Q
) -> list[TouchDay]:
    touches = Touch.objects.for_organization(organization).filter(parties)
    if days:
        touches = touches.filter(
            occurred_at__gte=local_day_bounds(min(days), zone)[0],
            occurred_at__lt=local_day_bounds(max(days), zone)[1],
        )
    counted = (
        touches.annotate(day=TruncDate("occurred_at", tzinfo=zone))
        .filter(day__in=list(days))
        .values("day", "physician_id", "practice_id", "kind", "made_by_id")
        .annotate(touches=Count("pk"))
        .order_by()
    )
    return [TouchDay(organization=organization, **cell) for cell in counted]


def _all_touch_days(organization: Organization, zone: ZoneInfo) -> list[TouchDay]:
    counted = (
        Touch.objects.for_organization(organization)
        .annotate(day=TruncDate("occurred_at", tzinfo=zone))
        .values("day", "physician_id", "practice_id", "kind", "made_by_id")
        .annotate(touches=Count("pk"))
        .order_by()
    )
    return [TouchDay(organization=organization, **cell) for cell in counted]


@dataclass(frozen=True)
class RollupCheck:
    """What a verification found: facts missing, extra or different, and touch-day cells that differ."""

    facts_checked: int
    facts_wrong: int
    touch_cells_wrong: int
    repaired: bool

    @property
    def clean(self) -> bool:
        return not (self.facts_wrong or self.touch_cells_wrong)


def _fact_values(fact: ReferralFact) -> tuple[object, ...]:
    return tuple(getattr(fact, name) for name in FACT_FIELDS)


def _touch_cells(rows: Iterable[TouchDay]) -> dict[tuple[object, ...], int]:
    """Cells summed by key: a merge may leave one cell as two rows for a moment."""
    cells: dict[tuple[object, ...], int] = defaultdict(int)
    for row in rows:
        cells[(row.day, row.physician_id, row.practice_id, row.kind, row.made_by_id)] += row.touches
    return dict(cells)


def rollups_verify(*, organization: Organization, repair: bool) -> RollupCheck:
    """Recomputes the organization's rollups from scratch and compares; with `repair`, rewrites what differs.

    1. Referrals in batches of 2,000 by id: each one's facts recomputed and
       compared field by field with the stored row; facts of referrals that no
       longer exist are extra.
    2. Touch-day cells recounted for the whole organization and compared
       cell by cell.
    3. With `repair`, each wrong fact is rewritten, extra ones deleted, and
       the touch cells of every day that differs rewritten, each batch in its
       own transaction under the referrals' locks, as a write would be.
    """
    zone = ZoneInfo(organization.timezone)
    referral_ids = list(
        Referral.objects.for_organization(organization).order_by("pk").values_list("pk", flat=True)
    )
    wrong_facts = 0
    for batch in _batches(referral_ids):
        with transaction.atomic():
            if repair:
                list(Referral.objects.select_for_update().filter(pk__in=batch).values_list("pk"))
            expected = {fact.referral_id: _fact_values(fact) for fact in _facts_from_scratch(batch)}
            stored = {
                fact.referral_id: _fact_values(fact)
                for fact in ReferralFact.objects.filter(referral_id__in=batch)
            }
            wrong = [pk for pk in batch if expected.get(pk) != stored.get(pk)]
            wrong_facts += len(wrong)
            if repair and wrong:
                referral_facts_refresh(referral_ids=wrong)
    extra = ReferralFact.objects.for_organization(organization).exclude(
        referral_id__in=Referral.objects.for_organization(organization).values("pk")
    )
    extra_count = extra.count()
    if repair and extra_count:
        extra.delete()
    wrong_facts += extra_count

    expected_cells = _touch_cells(_all_touch_days(organization, zone))
    stored_cells = _touch_cells(TouchDay.objects.for_organization(organization))
    wrong_cells = {
        key
        for key in expected_cells.keys() | stored_cells.keys()
        if expected_cells.get(key) != stored_cells.get(key)
    }
    if repair and wrong_cells:
        with transaction.atomic():
            _touch_cells_rewrite(
                organization,
                zone,
                days={cast(date, key[0]) for key in wrong_cells},
                physicians=None,
                practices=None,
            )
    return RollupCheck(
        facts_checked=len(referral_ids),
        facts_wrong=wrong_facts,
        touch_cells_wrong=len(wrong_cells),
        repaired=repair,
    )


def _insert(model: type[ReferralFact] | type[TouchDay], rows: Sequence[ReferralFact | TouchDay]) -> None:
    """Inserts new rows: COPY on PostgreSQL, where a rebuild writes a million at once; else bulk_create."""
    if connection.vendor != "postgresql":
        model.objects.bulk_create(rows, batch_size=BATCH)  # type: ignore[arg-type]
        return
    # Every column but an id the database numbers itself (a fact's key is its referral's).
    fields = [field for field in model._meta.concrete_fields if not isinstance(field, models.AutoField)]
    buffer = io.StringIO()
    # Only None is left unquoted, which COPY's CSV format reads as NULL; "" stays an empty string.
    writer = csv.writer(buffer, quoting=csv.QUOTE_NOTNULL)
    for row in rows:
        writer.writerow([_copy_value(getattr(row, field.attname)) for field in fields])
    buffer.seek(0)
    names = ", ".join(connection.ops.quote_name(str(field.column)) for field in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        # psycopg2's own cursor, under Django's wrapper.
        cursor.cursor.copy_expert(f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)", buffer)


def _copy_value(value: object) -> object:
    """A value as COPY's CSV format reads it: ISO 8601 for dates and times."""
    return value.isoformat() if isinstance(value, date) else value


@transaction.atomic
def touch_days_rebuild(*, organization: Organization) -> None:
    """Remakes the organization's touch-day counts from its touches (after a bulk load of touches)."""
    TouchDay.objects.for_organization(organization).delete()
    _insert(TouchDay, _all_touch_days(organization, ZoneInfo(organization.timezone)))


@transaction.atomic
def rollups_rebuild(*, organization: Organization) -> int:
    """Remakes the organization's rollups from nothing; returns how many referrals they cover."""
    zone = ZoneInfo(organization.timezone)
    ReferralFact.objects.for_organization(organization).delete()
    TouchDay.objects.for_organization(organization).delete()
    referral_ids = list(
        Referral.objects.for_organization(organization).order_by("pk").values_list("pk", flat=True)
    )
    for batch in _batches(referral_ids):
        _insert(ReferralFact, _facts_from_scratch(batch))
    _insert(TouchDay, _all_touch_days(organization, zone))
    return len(referral_ids)
