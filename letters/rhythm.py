"""Which letters a physician's rhythm asks for, and the calendar of monthly summaries: pure rules.

| send updates (`update_rhythm`) | letters                                              |
|--------------------------------|------------------------------------------------------|
| After the evaluation           | the evaluation and plan                              |
| At each progress note          | the evaluation, every progress report, the discharge |
| At discharge                   | the discharge summary                                |
| Monthly summary                | one summary of all their patients per calendar month |
| No routine updates             | none                                                 |

A physician who wants every progress note wants the evaluation that starts
the care and the discharge that ends it too; each other rhythm names one
letter. Months are the organization's calendar months: a summary of March
is due at midnight on April 1 in the organization's zone, whatever the
offset from UTC that day.
"""

import datetime
from zoneinfo import ZoneInfo

from physicians.models import UpdateRhythm

from .models import LetterKind

RHYTHM_LETTERS: dict[str, frozenset[str]] = {
    UpdateRhythm.AFTER_EVALUATION: frozenset({LetterKind.EVALUATION}),
    UpdateRhythm.EVERY_PROGRESS_NOTE: frozenset(
        {LetterKind.EVALUATION, LetterKind.PROGRESS, LetterKind.DISCHARGE}
    ),
    UpdateRhythm.AT_DISCHARGE: frozenset({LetterKind.DISCHARGE}),
    UpdateRhythm.MONTHLY: frozenset({LetterKind.MONTHLY}),
    UpdateRhythm.NO_UPDATES: frozenset(),
}


def rhythms_wanting(kind: str) -> list[str]:
    """The rhythms whose physicians get letters of `kind`."""
    return sorted(rhythm for rhythm, kinds in RHYTHM_LETTERS.items() if kind in kinds)


def referral_letter_key(*, kind: str, referral_id: int, note_id: int) -> str:
    """Once per referral for an evaluation or a discharge; once per note for a progress report."""
    if kind == LetterKind.PROGRESS:
        return f"progress:{note_id}"
    return f"{kind}:{referral_id}"


def monthly_key(*, physician_id: int, month: datetime.date) -> str:
    return f"monthly:{physician_id}:{month:%Y-%m}"


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def next_month(month: datetime.date) -> datetime.date:
    return (month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


def previous_month(day: datetime.date) -> datetime.date:
    """The first day of the calendar month before `day`'s."""
    return (month_start(day) - datetime.timedelta(days=1)).replace(day=1)


def month_bounds(month: datetime.date, zone: ZoneInfo) -> tuple[datetime.datetime, datetime.datetime]:
    """The instants `month` starts and ends in `zone`: filter with `>= start, < end`."""
    start = datetime.datetime.combine(month_start(month), datetime.time.min, tzinfo=zone)
    end = datetime.datetime.combine(next_month(month), datetime.time.min, tzinfo=zone)
    return start, end


def month_last_day(month: datetime.date) -> datetime.date:
    return next_month(month) - datetime.timedelta(days=1)
