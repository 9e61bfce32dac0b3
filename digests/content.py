"""What a digest says, for a batch of people of one organization at once, in a fixed number of queries.

The digest computes nothing of its own: every figure and list comes from the
selectors of the app that owns it (referrals, outreach, outcomes, letters,
analytics), read once for the whole organization and then split by person in
Python. So a batch costs the same whether it holds one recipient or three
hundred:

1. `OrganizationWeek` holds the organization's week: its windows (last week
   and this week, Monday to Sunday on the organization's clock, as every
   weekly count in Rapport) and, as cached properties, each selector's
   answer for everyone. A property is read only if some recipient's role
   shows it, so a batch of therapists never reads the revenue.
2. `digest_for` assembles one person's sections from those answers, keeping
   the rows that are theirs (their referrals, their sources, their
   follow-ups) and the sections they have not turned off. A section with
   nothing in it is left out; a digest with no section says so in one line.

Patients appear as first name and last initial only, and never in a subject.
Every link is absolute (the email is read outside Rapport) and leads to the
page that shows the item.
"""

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import formats

from accounts.models import User
from analytics.filters import DashboardFilters, Period
from analytics.lift import Lift
from analytics.selectors import (
    LIFT_WINDOW_DAYS,
    OwnerSources,
    outreach_lift_by_person,
    pipeline,
    revenue,
    sources_by_owner,
)
from clinics.clock import clinic_clock, local_day_bounds, organization_today, organization_zone
from clinics.links import site_url
from clinics.models import Membership, Organization, Role
from clinics.phones import phone_display
from letters.models import Letter
from letters.selectors import (
    LoopCounts,
    LoopReason,
    letter_settings_get,
    letters_awaiting_review,
    letters_sent_between,
    loop_counts,
    loop_not_closed,
)
from outcomes.selectors import (
    NpsAnswer,
    OutcomeChange,
    nps_answers_between,
    nps_summary,
    referral_outcome_changes,
)
from outreach.flags import sources_needing_attention
from outreach.models import FlagKind, FollowUp
from outreach.selectors import Activity, followups_for, touch_activity_by_week
from physicians.models import Physician
from referrals.models import Referral
from referrals.plans import PlanStatus
from referrals.selectors import (
    PracticeGroup,
    evaluations_booked_between,
    plans_awaiting_signature,
    referral_settings_get,
    referrals_discharged_between,
    referrals_received_between,
)

from .models import Section

# The sections of each role's digest, in the order they are shown.
ROLE_SECTIONS: dict[str, list[Section]] = {
    Role.THERAPIST: [
        Section.REFERRALS,
        Section.PLANS,
        Section.LETTERS,
        Section.LOOP,
        Section.DISCHARGES,
        Section.THANKS,
    ],
    Role.LIAISON: [
        Section.ATTENTION,
        Section.FOLLOWUPS,
        Section.NEW_SOURCES,
        Section.TOP_SOURCES,
        Section.TOUCHES,
        Section.LIFT,
    ],
    Role.ADMIN: [
        Section.WEEK,
        Section.REVENUE,
        Section.LOOP_RATE,
        Section.NPS,
        Section.AT_STAKE,
    ],
}
DIGEST_ROLES = frozenset(ROLE_SECTIONS)
# Rows shown in one list before "and N more" (the link shows them all).
LIST_LIMIT = 8
TOP_SOURCES = 5
PRACTICES_SHOWN = 5
# How far back top sources, new sources and revenue look: a week is too short to show a trend.
TREND_DAYS = 28
REVENUE_DAYS = 90
LIFT_DAYS = 90
# The weeks before last week whose touches make a liaison's usual rhythm.
USUAL_WEEKS = 8
NOTABLE_COMMENTS = 3


def patient_label(first_name: str, last_name: str) -> str:
    """A patient as a digest may name them: "Maria L."."""
    first, last = first_name.strip(), last_name.strip()
    return f"{first} {last[:1]}.".strip() if last else first


def _url(url_name: str, query: str = "", **kwargs: Any) -> str:
    return site_url(reverse(url_name, kwargs=kwargs or None) + (f"?{query}" if query else ""))


def _signed(value: int) -> str:
    return f"{value:+d}" if value else "no change"


@dataclass(frozen=True)
class Line:
    text: str
    url: str = ""
    # Said after the link, in a quieter voice.
    detail: str = ""


@dataclass(frozen=True)
class Group:
    """Lines under a heading (a practice, a kind of letter); the note says what to do about them."""

    title: str
    lines: list[Line]
    note: str = ""
    more: int = 0


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    # The comparison, in words: "12 the week before".
    detail: str = ""


@dataclass(frozen=True)
class DigestSection:
    key: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    # Where the whole list lives.
    link: Line | None = None

    @property
    def is_empty(self) -> bool:
        return not self.figures and not any(group.lines for group in self.groups)


@dataclass(frozen=True)
class Digest:
    organization: Organization
    membership: Membership
    # The ISO week the digest is for ("2026-W49") and how it reads.
    week: str
    week_label: str
    last_week_label: str
    sections: list[DigestSection]

    @property
    def is_empty(self) -> bool:
        return not self.sections

    @property
    def person_name(self) -> str:
        user = self.membership.user
        return user.first_name or user.get_full_name() or user.username

    @property
    def role_label(self) -> str:
        return self.membership.get_role_display()

    @property
    def item_count(self) -> int:
        return sum(len(group.lines) + group.more for section in self.sections for group in section.groups)


def _listed(title: str, lines: list[Line], note: str = "") -> Group:
    return Group(title=title, lines=lines[:LIST_LIMIT], note=note, more=max(0, len(lines) - LIST_LIMIT))


def _by[T](rows: Iterable[T], key: Callable[[T], int | None]) -> dict[int, list[T]]:
    grouped: dict[int, list[T]] = defaultdict(list)
    for row in rows:
        owner = key(row)
        if owner is not None:
            grouped[owner].append(row)
    return grouped


def _letter_therapist(letter: Letter) -> int | None:
    """Whose letter it is: its signing therapist, else the therapist of its patient."""
    if letter.therapist_id is not None:
        return letter.therapist_id
    return letter.referral.therapist_id if letter.referral is not None else None


class OrganizationWeek:
    """The organization's week as every digest of a batch sees it: each selector read once, on first use."""

    def __init__(self, *, organization: Organization, now: datetime.datetime, people: list[User]) -> None:
        self.organization = organization
        self.now = now
        self.people = people
        self.zone = zone = organization_zone(organization)
        self.today = organization_today(organization, now=now)
        self.monday = self.today - datetime.timedelta(days=self.today.weekday())
        self.last_monday = self.monday - datetime.timedelta(days=7)
        self.last_week_start, _ = local_day_bounds(self.last_monday, zone)
        self.week_start, _ = local_day_bounds(self.monday, zone)
        _, self.week_end = local_day_bounds(self.monday + datetime.timedelta(days=6), zone)
        self.last_sunday = self.monday - datetime.timedelta(days=1)

    def day(self, value: datetime.date | datetime.datetime) -> str:
        """A day as the digest says it ("Mon Nov 23"); a moment on the organization's clock."""
        if isinstance(value, datetime.datetime):
            value = value.astimezone(self.zone)
        return formats.date_format(value, "D M j")

    def filters(self, days: int) -> DashboardFilters:
        """The dashboards' filters for the `days` days that end last Sunday."""
        return DashboardFilters(
            organization=self.organization,
            period=Period(start=self.last_sunday - datetime.timedelta(days=days - 1), end=self.last_sunday),
            today=self.today,
        )

    # Referrals and plans of care

    @cached_property
    def referral_rules(self):
        return referral_settings_get(organization=self.organization)

    @cached_property
    def received(self) -> dict[int, list[Referral]]:
        rows = referrals_received_between(
            organization=self.organization, since=self.last_week_start, until=self.week_start
        )
        return _by(rows, lambda referral: referral.therapist_id)

    @cached_property
    def booked(self) -> dict[int, list[Referral]]:
        rows = evaluations_booked_between(organization=self.organization, since=self.now, until=self.week_end)
        return _by(rows, lambda referral: referral.therapist_id)

    @cached_property
    def plans(self) -> list[PracticeGroup]:
        return plans_awaiting_signature(
            organization=self.organization, today=self.today, rules=self.referral_rules
        )

    @cached_property
    def discharged(self) -> dict[int, list[Referral]]:
        rows = referrals_discharged_between(
            organization=self.organization, since=self.last_week_start, until=self.week_start
        )
        return _by(rows, lambda referral: referral.therapist_id)

    @cached_property
    def outcome_changes(self) -> dict[int, list[OutcomeChange]]:
        ids = [referral.pk for rows in self.discharged.values() for referral in rows]
        return referral_outcome_changes(organization=self.organization, referral_ids=ids) if ids else {}

    # Letters

    @cached_property
    def letter_rules(self):
        return letter_settings_get(organization=self.organization)

    @cached_property
    def letters_sent(self) -> list[Letter]:
        return letters_sent_between(
            organization=self.organization, since=self.last_week_start, until=self.week_start
        )

    @cached_property
    def letters_in_review(self) -> dict[int, list[Letter]]:
        return _by(letters_awaiting_review(organization=self.organization), _letter_therapist)

    @cached_property
    def loop_open(self) -> list[Referral]:
        return list(loop_not_closed(organization=self.organization, rules=self.letter_rules, now=self.now))

    @cached_property
    def loop_counts(self) -> LoopCounts:
        return loop_counts(organization=self.organization, rules=self.letter_rules, now=self.now)

    # Outreach

    @cached_property
    def attention(self) -> list[Physician]:
        return list(sources_needing_attention(organization=self.organization, now=self.now))

    @cached_property
    def followups(self) -> dict[int, list[FollowUp]]:
        groups = followups_for(
            organization=self.organization, user=self.people[0], today=self.today, everyone=True
        )
        sunday = self.monday + datetime.timedelta(days=6)
        due = [f for f in [*groups.overdue, *groups.today, *groups.upcoming] if f.due_on <= sunday]
        return _by(due, lambda followup: followup.owner_id)

    @cached_property
    def activity(self) -> Activity:
        # "Now" a week ago: the table's current week is last week, the rows after it the usual.
        return touch_activity_by_week(
            organization=self.organization,
            weeks=USUAL_WEEKS + 1,
            now=self.week_start - datetime.timedelta(seconds=1),
        )

    @cached_property
    def sources(self) -> dict[int, OwnerSources]:
        return sources_by_owner(self.filters(TREND_DAYS), limit=TOP_SOURCES)

    @cached_property
    def lift(self) -> dict[int, Lift]:
        liaisons = [person.pk for person in self.people]
        return outreach_lift_by_person(self.filters(LIFT_DAYS), window=LIFT_WINDOW_DAYS, person_ids=liaisons)

    # The organization's figures

    @cached_property
    def pipeline(self):
        return pipeline(self.filters(7))

    @cached_property
    def revenue(self):
        return revenue(self.filters(REVENUE_DAYS))

    @cached_property
    def nps(self) -> list[NpsAnswer]:
        return nps_answers_between(
            organization=self.organization, since=self.last_monday, until=self.last_sunday
        )


# --- Therapists ------------------------------------------------------------------------------------


def _referral_line(referral: Referral, detail: str) -> Line:
    return Line(
        patient_label(referral.patient_first_name, referral.patient_last_name),
        _url("referrals:detail", referral_id=referral.pk),
        detail,
    )


def _therapist_referrals(week: OrganizationWeek, user_id: int) -> DigestSection:
    received = week.received.get(user_id, [])
    booked = week.booked.get(user_id, [])
    groups = [
        _listed(
            f"New last week ({len(received)})",
            [
                _referral_line(r, f"from {r.source_label}, received {week.day(r.received_at)}")
                for r in received
            ],
        ),
        _listed(
            f"Evaluations coming up this week ({len(booked)})",
            [
                _referral_line(
                    r,
                    # On the clinic's clock, as the appointment was booked (clinics/clock.py).
                    f"{clinic_clock(r.first_appointment_at, r.first_appointment_clinic)} at "
                    f"{r.first_appointment_clinic.name}"
                    if r.first_appointment_clinic
                    else week.day(r.first_appointment_at),
                )
                for r in booked
                if r.first_appointment_at is not None
            ],
        ),
    ]
    return DigestSection(Section.REFERRALS, Section.REFERRALS.label, groups=[g for g in groups if g.lines])


def _therapist_plans(week: OrganizationWeek, user_id: int) -> DigestSection:
    groups = []
    for practice_group in week.plans:
        rows = [row for row in practice_group.rows if row.plan.referral.therapist_id == user_id]
        if not rows:
            continue
        lines = [
            Line(
                patient_label(row.plan.referral.patient_first_name, row.plan.referral.patient_last_name),
                _url("referrals:detail", referral_id=row.plan.referral_id),
                f"{PlanStatus(row.state.status).label} · signature due {week.day(row.state.signature_due_on)}"
                f" · {row.plan.certifier.display_name}",
            )
            for row in rows
        ]
        call = ", ".join(
            f"{gatekeeper} {phone_display(gatekeeper.phone)}".strip()
            for gatekeeper in practice_group.gatekeepers
        )
        title = practice_group.practice.name if practice_group.practice else "No practice on file"
        groups.append(_listed(title, lines, note=f"Call {call}" if call else ""))
    if len(groups) > PRACTICES_SHOWN:
        # The practices with the most overdue plans come first; the rest are one line, the link shows them.
        rest = sum(len(group.lines) + group.more for group in groups[PRACTICES_SHOWN:])
        groups = [*groups[:PRACTICES_SHOWN], Group(title="", lines=[], more=rest)]
    overdue = sum(
        row.state.status == PlanStatus.OVERDUE
        for group in week.plans
        for row in group.rows
        if row.plan.referral.therapist_id == user_id
    )
    figures = [Figure("Overdue for signature", str(overdue))] if overdue else []
    return DigestSection(
        Section.PLANS,
        Section.PLANS.label,
        figures=figures if groups else [],
        groups=groups,
        link=Line("All my plans of care", _url("referrals:plans_awaiting", "mine=1")),
    )


def _therapist_letters(week: OrganizationWeek, user_id: int) -> DigestSection:
    waiting = week.letters_in_review.get(user_id, [])
    sent = [letter for letter in week.letters_sent if _letter_therapist(letter) == user_id]

    def line(letter: Letter, detail: str) -> Line:
        about = (
            patient_label(letter.referral.patient_first_name, letter.referral.patient_last_name)
            if letter.referral is not None
            else "Monthly summary"
        )
        return Line(
            f"{letter.get_kind_display()}: {about}",
            _url("letters:detail", letter_id=letter.pk),
            f"to {letter.physician.display_name}{detail}",
        )

    groups = [
        _listed(
            f"Waiting for your review ({len(waiting)})",
            [line(letter, f", waiting since {week.day(letter.created_at)}") for letter in waiting],
        ),
        _listed(f"Sent last week ({len(sent)})", [line(letter, "") for letter in sent]),
    ]
    return DigestSection(
        Section.LETTERS,
        Section.LETTERS.label,
        groups=[g for g in groups if g.lines],
        link=Line("Letters waiting for review", _url("letters:review")),
    )


def _therapist_loop(week: OrganizationWeek, user_id: int) -> DigestSection:
    mine = [referral for referral in week.loop_open if referral.therapist_id == user_id]
    lines = [
        _referral_line(
            referral,
            f"{referral.physician.display_name if referral.physician else referral.source_label}"
            f" · {LoopReason(referral.loop_reason).label}",  # type: ignore[attr-defined]  # annotated
        )
        for referral in mine
    ]
    return DigestSection(
        Section.LOOP,
        Section.LOOP.label,
        groups=[_listed(f"Your patients ({len(lines)})", lines)] if lines else [],
        link=Line("Open loops", _url("letters:loop")),
    )


def _change_text(changes: list[OutcomeChange]) -> str:
    if not changes:
        return "no outcome scores to compare"
    parts = []
    for change in changes:
        verdict = {True: "reached the MCID", False: "below the MCID", None: "no MCID published"}[
            change.reached_mcid
        ]
        intake, latest = (f"{score.normalize():f}" for score in (change.intake_score, change.latest_score))
        parts.append(f"{change.instrument_name} {intake} → {latest} ({verdict})")
    return "; ".join(parts)


def _therapist_discharges(week: OrganizationWeek, user_id: int) -> DigestSection:
    discharged = week.discharged.get(user_id, [])
    if not discharged:
        return DigestSection(Section.DISCHARGES, Section.DISCHARGES.label)
    changes = week.outcome_changes
    lines = [_referral_line(r, _change_text(changes.get(r.pk, []))) for r in discharged]
    reached = sum(any(c.reached_mcid for c in changes.get(r.pk, [])) for r in discharged)
    return DigestSection(
        Section.DISCHARGES,
        Section.DISCHARGES.label,
        figures=[Figure("Discharged last week", str(len(discharged)), f"{reached} reached the MCID")],
        groups=[_listed("", lines)],
    )


def _therapist_thanks(week: OrganizationWeek, user_id: int) -> DigestSection:
    counts: dict[int, tuple[Physician, int]] = {}
    for referral in week.received.get(user_id, []):
        if referral.physician is not None:
            _, count = counts.get(referral.physician_id, (referral.physician, 0))  # type: ignore[arg-type]
            counts[referral.physician.pk] = (referral.physician, count + 1)
    lines = [
        Line(
            physician.display_name,
            _url("physicians:detail", physician_id=physician.pk),
            f"{count} patient{pluralize(count)} sent to you last week",
        )
        for physician, count in sorted(counts.values(), key=lambda item: (-item[1], item[0].last_name))
    ]
    return DigestSection(Section.THANKS, Section.THANKS.label, groups=[_listed("", lines)] if lines else [])


# --- Liaisons --------------------------------------------------------------------------------------


def _source_line(physician: Physician) -> Line:
    flags = [flag for flag in getattr(physician, "open_flags", []) if flag.kind in FlagKind.values]
    return Line(
        physician.display_name,
        _url("physicians:detail", physician_id=physician.pk),
        " · ".join(flag.reason for flag in flags),
    )


def _liaison_attention(week: OrganizationWeek, user_id: int) -> DigestSection:
    mine = [physician for physician in week.attention if physician.owner_id == user_id]
    lapsed = [p for p in mine if any(f.kind == FlagKind.CONTACT_LAPSED for f in p.open_flags)]  # type: ignore[attr-defined]
    declining = [p for p in mine if any(f.kind == FlagKind.REFERRALS_DECLINING for f in p.open_flags)]  # type: ignore[attr-defined]
    groups = [
        _listed(f"Referrals declining ({len(declining)})", [_source_line(p) for p in declining]),
        _listed(f"Contact lapsed ({len(lapsed)})", [_source_line(p) for p in lapsed]),
    ]
    return DigestSection(
        Section.ATTENTION,
        Section.ATTENTION.label,
        groups=[g for g in groups if g.lines],
        link=Line("Your sources on the Attention list", _url("outreach:attention", "mine=on")),
    )


def _liaison_followups(week: OrganizationWeek, user_id: int) -> DigestSection:
    due = week.followups.get(user_id, [])
    lines = []
    for followup in due:
        touch = followup.touch
        whom = touch.physician or touch.practice or touch.gatekeeper
        late = " (overdue)" if followup.due_on < week.today else ""
        lines.append(
            Line(
                str(whom) if whom else "Follow-up",
                _url("outreach:followups"),
                f"{week.day(followup.due_on)}{late} {followup.note}".strip(),
            )
        )
    return DigestSection(
        Section.FOLLOWUPS,
        Section.FOLLOWUPS.label,
        groups=[_listed(f"Due by Sunday ({len(lines)})", lines)] if lines else [],
        link=Line("All my follow-ups", _url("outreach:followups")),
    )


def _trend_line(trend: Any) -> Line:
    return Line(
        trend.name,
        site_url(trend.link) if trend.link else "",
        f"{trend.now} referral{pluralize(trend.now)}, {_signed(trend.change)} on the 4 weeks before",
    )


def _liaison_new_sources(week: OrganizationWeek, user_id: int) -> DigestSection:
    owned = week.sources.get(user_id)
    lines = [_trend_line(trend) for trend in owned.new] if owned else []
    return DigestSection(
        Section.NEW_SOURCES,
        Section.NEW_SOURCES.label,
        groups=[_listed("First referral ever in the last 4 weeks", lines)] if lines else [],
    )


def _liaison_top_sources(week: OrganizationWeek, user_id: int) -> DigestSection:
    owned = week.sources.get(user_id)
    lines = [_trend_line(trend) for trend in owned.top] if owned else []
    return DigestSection(
        Section.TOP_SOURCES,
        Section.TOP_SOURCES.label,
        groups=[_listed("Referrals in the last 4 weeks", lines)] if lines else [],
        link=Line("Sources dashboard", _url("analytics:sources")),
    )


def _liaison_touches(week: OrganizationWeek, user_id: int) -> DigestSection:
    activity = week.activity
    if user_id not in activity.person_ids:
        return DigestSection(Section.TOUCHES, Section.TOUCHES.label)
    column = activity.person_ids.index(user_id)
    rows = activity.by_person.rows
    last_week = rows[0].counts[column]
    usual = sum(row.counts[column] for row in rows[1:]) / max(1, len(rows) - 1)
    return DigestSection(
        Section.TOUCHES,
        Section.TOUCHES.label,
        figures=[
            Figure(
                "Touches logged last week",
                str(last_week),
                f"your usual is about {usual:.0f} a week (the {len(rows) - 1} weeks before)",
            )
        ],
        link=Line("Activity by week", _url("outreach:activity")),
    )


def _liaison_lift(week: OrganizationWeek, user_id: int) -> DigestSection:
    result = week.lift.get(user_id)
    if result is None or not result.events:
        return DigestSection(Section.LIFT, Section.LIFT.label)
    shown = "—" if result.estimate is None else f"{result.estimate:+.2f}"
    return DigestSection(
        Section.LIFT,
        Section.LIFT.label,
        figures=[
            Figure(
                "Lift of your touches",
                shown,
                f"{result.verdict.lower()} · referrals per source in the {LIFT_WINDOW_DAYS} days after, "
                f"{result.events} touched source{pluralize(result.events)} in the last {LIFT_DAYS} days",
            )
        ],
        link=Line("Outreach dashboard", _url("analytics:outreach")),
    )


# --- Admins ----------------------------------------------------------------------------------------


def _headline_value(value: object, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "percent":  # analytics gives percentages: 43.8
        return f"{float(value):.0f} %"  # type: ignore[arg-type]
    if unit == "money":
        return f"${Decimal(str(value)):,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _admin_week(week: OrganizationWeek) -> DigestSection:
    figures = []
    for headline in week.pipeline.headlines:
        detail = (
            f"{_headline_value(headline.previous, headline.unit)} the week before"
            if headline.previous is not None
            else ""
        )
        figures.append(Figure(headline.label, _headline_value(headline.value, headline.unit), detail))
    has_any = any(headline.value for headline in week.pipeline.headlines)
    return DigestSection(
        Section.WEEK,
        Section.WEEK.label,
        figures=figures if has_any else [],
        link=Line("Pipeline dashboard", _url("analytics:pipeline")),
    )


def _admin_revenue(week: OrganizationWeek) -> DigestSection:
    table = week.revenue.table("revenue_physicians")
    lines = [
        Line(
            row[0].text,
            site_url(row[1].link) if row[1].link else "",
            f"{row[4].text} collected from {row[1].text} referral{pluralize(row[1].value)}",
        )
        for row in table.rows[:TOP_SOURCES]
        if row[4].value
    ]
    return DigestSection(
        Section.REVENUE,
        Section.REVENUE.label,
        groups=[_listed(f"Referrals of the last {REVENUE_DAYS} days, by money collected so far", lines)]
        if lines
        else [],
        link=Line("Revenue dashboard", _url("analytics:revenue")),
    )


def _admin_loop_rate(week: OrganizationWeek) -> DigestSection:
    sent = len(week.letters_sent)
    counts = week.loop_counts
    figures = []
    if sent:
        figures.append(Figure("Letters sent last week", str(sent)))
    if counts.due:
        share = counts.closed_share or 0
        figures.append(
            Figure(
                "Loops closed",
                f"{share:.0%}",
                f"{counts.closed} of {counts.due} patients' physicians heard back as their rhythm promised",
            )
        )
    return DigestSection(
        Section.LOOP_RATE,
        Section.LOOP_RATE.label,
        figures=figures,
        link=Line("Open loops", _url("letters:loop")),
    )


def _admin_nps(week: OrganizationWeek) -> DigestSection:
    answers = week.nps
    if not answers:
        return DigestSection(Section.NPS, Section.NPS.label)
    summary = nps_summary(answer.score for answer in answers)
    # The comments furthest from the middle say the most: the unhappiest and the happiest.
    commented = sorted(
        (a for a in answers if a.comment.strip()), key=lambda a: abs(a.score - 7.5), reverse=True
    )
    lines = [
        Line(f"“{a.comment.strip()[:200]}”", detail=f"score {a.score}") for a in commented[:NOTABLE_COMMENTS]
    ]
    return DigestSection(
        Section.NPS,
        Section.NPS.label,
        figures=[
            Figure(
                "NPS last week",
                f"{summary.score:+d}" if summary.score is not None else "—",
                f"{summary.answers} answer{pluralize(summary.answers)}: {summary.promoters} promoters, "
                f"{summary.passives} passives, {summary.detractors} detractors",
            )
        ],
        groups=[_listed("Notable comments", lines)] if lines else [],
        link=Line("Clinic scorecard", _url("outcomes:organization_scorecard")),
    )


def _admin_at_stake(week: OrganizationWeek) -> DigestSection:
    lines = [
        Line(
            physician.display_name,
            _url("physicians:detail", physician_id=physician.pk),
            f"tier {physician.tier}, {physician.referrals_last_year} referrals in the past year"  # type: ignore[attr-defined]
            + (f", owner {physician.owner}" if physician.owner else ", no owner"),
        )
        for physician in week.attention[:TOP_SOURCES]
    ]
    return DigestSection(
        Section.AT_STAKE,
        Section.AT_STAKE.label,
        groups=[_listed("Flagged sources, most referrals first", lines)] if lines else [],
        link=Line("Attention list", _url("outreach:attention")),
    )


PersonBuilder = Callable[[OrganizationWeek, int], DigestSection]
OrganizationBuilder = Callable[[OrganizationWeek], DigestSection]
PERSONAL: dict[Section, PersonBuilder] = {
    Section.REFERRALS: _therapist_referrals,
    Section.PLANS: _therapist_plans,
    Section.LETTERS: _therapist_letters,
    Section.LOOP: _therapist_loop,
    Section.DISCHARGES: _therapist_discharges,
    Section.THANKS: _therapist_thanks,
    Section.ATTENTION: _liaison_attention,
    Section.FOLLOWUPS: _liaison_followups,
    Section.NEW_SOURCES: _liaison_new_sources,
    Section.TOP_SOURCES: _liaison_top_sources,
    Section.TOUCHES: _liaison_touches,
    Section.LIFT: _liaison_lift,
}
ORGANIZATION_WIDE: dict[Section, OrganizationBuilder] = {
    Section.WEEK: _admin_week,
    Section.REVENUE: _admin_revenue,
    Section.LOOP_RATE: _admin_loop_rate,
    Section.NPS: _admin_nps,
    Section.AT_STAKE: _admin_at_stake,
}


def sections_for(role: str) -> list[Section]:
    return ROLE_SECTIONS.get(role, [])


def digests_build(
    *,
    organization: Organization,
    recipients: list[tuple[Membership, set[str], str]],
    now: datetime.datetime,
) -> list[Digest]:
    """One digest per (membership, sections turned off, ISO week), in order; see the module's docstring.

    The memberships are the organization's, each with its user selected.
    Organization-wide sections are built once and shared by every admin.
    """
    week = OrganizationWeek(
        organization=organization, now=now, people=[membership.user for membership, _, _ in recipients]
    )
    shared: dict[Section, DigestSection] = {}
    digests = []
    for membership, off, iso_week in recipients:
        sections = []
        for key in sections_for(membership.role):
            if key in off:
                continue
            if key in ORGANIZATION_WIDE:
                if key not in shared:
                    shared[key] = ORGANIZATION_WIDE[key](week)
                section = shared[key]
            else:
                section = PERSONAL[key](week, membership.user_id)
            if not section.is_empty:
                sections.append(section)
        digests.append(
            Digest(
                organization=organization,
                membership=membership,
                week=iso_week,
                week_label=f"week of {formats.date_format(week.monday, 'M j, Y')}",
                last_week_label=f"{formats.date_format(week.last_monday, 'M j')} to "
                f"{formats.date_format(week.last_sunday, 'M j')}",
                sections=sections,
            )
        )
    return digests
