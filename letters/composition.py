"""What a letter says: composed from the referral, its care notes, visits, outcomes and NPS.

`letters_compose` turns due letters into unsaved `Letter` rows in a fixed
number of queries, whatever their number: the referrals, their care notes,
outcome changes and NPS answers are each read once for all of them (the
outcomes app's selectors), the monthly summaries' patients in one more.

The facts are frozen into `Letter.content` as display text, so a letter
shows what the physician was sent even after the referral changes; the
free-text parts (findings, plan) come from the care note and stay editable
until the letter leaves.
"""

import calendar
import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import formats, timezone

from accounts.models import User
from clinics.clock import local_date, organization_zone
from clinics.models import Clinic, Organization
from clinics.phones import phone_display
from outcomes.selectors import (
    NpsAnswer,
    OutcomeChange,
    referral_care_notes,
    referral_nps,
    referral_outcome_changes,
)
from referrals.models import Referral

from .models import Letter, LetterKind
from .rhythm import month_bounds
from .selectors import DueLetter, in_month, monthly_candidates


@dataclass
class ComposedLetter:
    """An unsaved letter and the referrals it is about."""

    letter: Letter
    referral_ids: list[int] = field(default_factory=list)


def _day(value: datetime.date | None) -> str:
    """“March 2, 2026”, as a letter writes a date (a few thousand per sweep: no locale machinery)."""
    return f"{calendar.month_name[value.month]} {value.day}, {value.year}" if value else ""


def _number(value: Decimal | None) -> str:
    """A score as people write it: 42, 7.5, -12 (no trailing zeros)."""
    if value is None:
        return ""
    text = f"{value.normalize():f}"
    return text


def initials(first_name: str, last_name: str) -> str:
    """“Pat Doe” → “P. D.”: how an email names the patient."""
    return " ".join(f"{name.strip()[0].upper()}." for name in (first_name, last_name) if name.strip())


def signature_name(user: User | None) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


def _outcome(change: OutcomeChange) -> dict[str, Any]:
    verdict = (
        "no published MCID"
        if change.reached_mcid is None
        else ("reached the MCID" if change.reached_mcid else "below the MCID")
    )
    return {
        "instrument": change.instrument_name,
        "code": change.instrument_code,
        "intake_score": _number(change.intake_score),
        "intake_on": _day(change.intake_on),
        "latest_score": _number(change.latest_score),
        "latest_on": _day(change.latest_on),
        "latest_phase": change.latest_phase,
        "change": _number(change.change),
        "improvement": _number(change.improvement),
        "mcid": _number(change.mcid),
        "reached_mcid": change.reached_mcid,
        "verdict": verdict,
        "meaning": change.meaning,
    }


def _nps(answer: NpsAnswer | None) -> dict[str, Any] | None:
    if answer is None:
        return None
    return {"score": answer.score, "answered_on": _day(answer.answered_on)}


def _clinic(clinic: Clinic, known: dict[int, dict[str, str]]) -> dict[str, str]:
    """The letterhead's clinic; `known` keeps each clinic's once (a few clinics, thousands of letters)."""
    if clinic.pk not in known:
        phone = phone_display(clinic.phone)
        known[clinic.pk] = {"name": clinic.name, "address": clinic.address, "phone": phone}
    return known[clinic.pk]


def _patient(referral: Referral, zone: Any) -> dict[str, Any]:
    return {
        "number": referral.number,
        "name": f"{referral.patient_first_name} {referral.patient_last_name}",
        "initials": initials(referral.patient_first_name, referral.patient_last_name),
        "birth_date": _day(referral.patient_birth_date),
        "referred_on": _day(local_date(referral.received_at, zone)),
        "status": referral.get_status_display(),
        "visits": referral.visits_attended,
        "diagnoses": list(referral.diagnosis_codes or []),
    }


def _note_for(due: DueLetter, notes: Sequence[Any]) -> Any | None:
    """The note a letter reports: a progress letter's own; the latest of its kind for the others."""
    if due.note_id is not None and due.kind == LetterKind.PROGRESS:
        return next((note for note in notes if note.pk == due.note_id), None)
    of_kind = [note for note in notes if note.kind == due.kind]
    return max(of_kind, key=lambda note: (note.created_at, note.pk), default=None)


def _referral_letters(
    *, organization: Organization, due: list[DueLetter], now: datetime.datetime
) -> list[ComposedLetter]:
    if not due:
        return []
    zone = organization_zone(organization)
    referral_ids = sorted({letter.referral_id for letter in due if letter.referral_id is not None})
    referrals = (
        Referral.objects.for_organization(organization)
        .select_related("clinic", "therapist")
        .in_bulk(referral_ids)
    )
    notes = referral_care_notes(organization=organization, referral_ids=referral_ids)
    changes = referral_outcome_changes(organization=organization, referral_ids=referral_ids)
    answers = referral_nps(organization=organization, referral_ids=referral_ids)
    composed = []
    clinics: dict[int, dict[str, str]] = {}
    for item in due:
        assert item.referral_id is not None
        referral = referrals[item.referral_id]
        note = _note_for(item, notes.get(referral.pk, []))
        signer = (note.therapist if note is not None else None) or referral.therapist
        content = {
            "patient": _patient(referral, zone),
            "clinic": _clinic(referral.clinic, clinics),
            "noted_on": _day(note.noted_on if note is not None else item.period_start),
            "outcomes": [_outcome(change) for change in changes.get(referral.pk, [])],
            "nps": _nps(answers.get(referral.pk)),
        }
        letter = Letter(
            organization=organization,
            kind=item.kind,
            key=item.key,
            physician_id=item.physician_id,
            referral=referral,
            period_start=item.period_start,
            period_end=item.period_end,
            content=content,
            findings=note.findings if note is not None else "",
            plan=note.plan if note is not None else "",
            therapist=signer,
            signature_name=signature_name(signer),
            due_at=item.due_at,
            created_at=now,
        )
        composed.append(ComposedLetter(letter=letter, referral_ids=[referral.pk]))
    return composed


def _monthly_letters(
    *, organization: Organization, due: list[DueLetter], now: datetime.datetime
) -> list[ComposedLetter]:
    """One summary per physician of the month's patients, each with visits, outcome changes and NPS."""
    if not due:
        return []
    zone = organization_zone(organization)
    by_month: dict[datetime.date, list[DueLetter]] = defaultdict(list)
    for item in due:
        by_month[item.period_start].append(item)
    bounds = {month: month_bounds(month, zone) for month in by_month}
    candidates = list(
        monthly_candidates(
            organization=organization,
            until=max(end for _, end in bounds.values()),
            physician_ids={item.physician_id for item in due},
        )
        .select_related("clinic")
        .order_by("patient_last_name", "patient_first_name", "pk")
    )
    ids = [referral.pk for referral in candidates]
    changes = referral_outcome_changes(organization=organization, referral_ids=ids)
    answers = referral_nps(organization=organization, referral_ids=ids)
    composed = []
    clinics: dict[int, dict[str, str]] = {}
    for month, items in by_month.items():
        start, end = bounds[month]
        of_physician: dict[int, list[Referral]] = defaultdict(list)
        for referral in candidates:
            if referral.physician_id is not None and in_month(referral, start, end):
                of_physician[referral.physician_id].append(referral)
        for item in items:
            mine = of_physician.get(item.physician_id, [])
            if not mine:
                continue
            clinic = max(mine, key=lambda referral: referral.received_at).clinic
            content = {
                "month": formats.date_format(month, "F Y"),
                "clinic": _clinic(clinic, clinics),
                "patients": [
                    {
                        **_patient(referral, zone),
                        "outcomes": [_outcome(change) for change in changes.get(referral.pk, [])],
                        "nps": _nps(answers.get(referral.pk)),
                    }
                    for referral in mine
                ],
            }
            letter = Letter(
                organization=organization,
                kind=LetterKind.MONTHLY,
                key=item.key,
                physician_id=item.physician_id,
                period_start=item.period_start,
                period_end=item.period_end,
                content=content,
                due_at=item.due_at,
                created_at=now,
            )
            composed.append(ComposedLetter(letter=letter, referral_ids=[referral.pk for referral in mine]))
    return composed


def letters_compose(
    *, organization: Organization, due: Iterable[DueLetter], now: datetime.datetime | None = None
) -> list[ComposedLetter]:
    """Unsaved letters for `due`, with the referrals each is about; a fixed number of queries (module doc)."""
    now = now or timezone.now()
    due = list(due)
    return _referral_letters(
        organization=organization, due=[item for item in due if item.kind != LetterKind.MONTHLY], now=now
    ) + _monthly_letters(
        organization=organization, due=[item for item in due if item.kind == LetterKind.MONTHLY], now=now
    )
