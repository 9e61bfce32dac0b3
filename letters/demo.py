"""Letter history for the demo: what each demo physician was sent about the patients they referred.

The demo clinics switched letters on six months ago. For every care note
the outcomes demo dated since then and every month ended since, the letters
each physician's rhythm asked for are composed as the sweep composes
them (`selectors.letters_due_in_history`, `composition.letters_compose`),
dated at the end of the note's clinic day or the month, and given the fate a
busy clinic gives its letters: most reached the physician (emailed, or
printed and marked sent a day or two later), the last days' still wait for
review or to be sent, and a few were forgotten, so the loop-not-closed list
has real patients on it. Summit reviews letters before they are sent; Harbor
does not. Written through `services.letters_record_bulk`, in a fixed number
of queries. An organization that already has letters is left alone, so
seeding again changes nothing; the letter rules are created here, after the
history, so the sweep never writes the history a second time.
"""

import dataclasses
import datetime
import random

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from clinics.clock import organization_today, organization_zone
from clinics.models import Membership, Organization, Role
from physicians.models import Physician
from referrals.models import Referral

from .composition import ComposedLetter, letters_compose
from .models import Letter, LetterKind, LetterStatus
from .rhythm import month_start, previous_month
from .selectors import LOOP_HORIZON, letter_settings_get, letters_due_in_history
from .services import letter_plan_delivery, letters_record_bulk

# The demo clinics switched letters on this many months ago (before the month now running).
HISTORY_MONTHS = 6
# A clinic writes its letters at the end of the day the note is dated.
END_OF_DAY = datetime.time(17, 30)
# Letters newer than this still wait (for review, or to be printed and sent).
STILL_WAITING = datetime.timedelta(days=2)
# The share of older letters someone forgot: they keep their patients on the loop-not-closed list.
FORGOTTEN = 0.04
# Old enough to be late under any usual loop setting (the default is 7 days, see LetterSettings.loop_days).
FORGOTTEN_LATE = datetime.timedelta(days=30)
REVIEWING_ORGANIZATIONS = {"summit"}


def seed(stdout=None) -> None:
    for organization in Organization.objects.filter(slug__in=["summit", "harbor"]).order_by("slug"):
        made = seed_organization(organization)
        if stdout is not None:
            stdout.write(f"{organization.name}: {made} letters to physicians")


def _member(organization: Organization, role: str) -> User | None:
    membership = (
        Membership.objects.filter(organization=organization, role=role, is_active=True)
        .select_related("user")
        .order_by("pk")
        .first()
    )
    return membership.user if membership is not None else None


@transaction.atomic
def seed_organization(organization: Organization) -> int:
    """The organization's letter history; returns how many letters were written."""
    if Letter.objects.for_organization(organization).exists():
        return 0
    if not Referral.objects.for_organization(organization).exists():
        return 0
    now = timezone.now()
    zone = organization_zone(organization)
    this_month = month_start(organization_today(organization, now=now))
    months = [this_month]
    for _ in range(HISTORY_MONTHS):
        months.insert(0, previous_month(months[0]))
    switched_on, months = months[0], months[:-1]
    due = [
        # A note's letter is written at the end of the day it is dated (the demo recorded them all today).
        dataclasses.replace(
            item, due_at=min(now, datetime.datetime.combine(item.period_start, END_OF_DAY, tzinfo=zone))
        )
        if item.note_id is not None
        else item
        for item in letters_due_in_history(organization=organization, until=now, months=months)
        if item.period_start >= switched_on
    ]
    composed = letters_compose(organization=organization, due=due, now=now)
    physicians = Physician.objects.for_organization(organization).in_bulk(
        {item.letter.physician_id for item in composed}
    )
    reviews = organization.slug in REVIEWING_ORGANIZATIONS
    reviewer = _member(organization, Role.ADMIN)
    sender = _member(organization, Role.FRONT_DESK)
    for item in composed:
        item.letter.physician = physicians[item.letter.physician_id]
        letter_plan_delivery(item.letter)
    forgotten = _forgotten_patient(composed, now=now, reviews=reviews)
    for item in composed:
        letter = item.letter
        _live(
            letter,
            now=now,
            reviews=reviews,
            reviewer=reviewer,
            sender=sender,
            forgotten=letter.referral_id is not None and letter.referral_id == forgotten,
        )
    written = letters_record_bulk(organization=organization, composed=composed)
    rules = letter_settings_get(organization=organization)
    if rules.review_before_sending != reviews:
        rules.review_before_sending = reviews
        rules.save(update_fields=["review_before_sending"])
    return written


def _forgotten_patient(
    composed: list[ComposedLetter], *, now: datetime.datetime, reviews: bool
) -> int | None:
    """The patient whose letters were all forgotten, so the loop-not-closed list is never empty.

    The random share alone leaves a small clinic's list empty on some days:
    this picks, whatever the day, the latest evaluation letter old enough to
    be late and young enough to be on the list, that a person had to act on
    (reviewed, or printed and posted; an email without review goes by itself).
    """
    late = [
        item.letter
        for item in composed
        if item.letter.kind == LetterKind.EVALUATION
        and (reviews or item.letter.delivery != "email")
        and LOOP_HORIZON - STILL_WAITING > now - item.letter.due_at > FORGOTTEN_LATE
    ]
    return max(late, key=lambda letter: letter.due_at).referral_id if late else None


def _live(
    letter: Letter,
    *,
    now: datetime.datetime,
    reviews: bool,
    reviewer: User | None,
    sender: User | None,
    forgotten: bool,
) -> None:
    """Gives a composed letter the life it had: written, perhaps reviewed, then sent or still waiting."""
    rng = random.Random(f"letters-{letter.organization_id}-{letter.key}")  # noqa: S311 (demo data, not secrets)
    letter.created_at = min(now, letter.due_at + datetime.timedelta(minutes=rng.randrange(5, 90)))
    recent = now - letter.created_at < STILL_WAITING
    forgotten = forgotten or rng.random() < FORGOTTEN
    leaves_at = letter.created_at
    if reviews:
        if recent or forgotten:
            letter.status = LetterStatus.REVIEW
            return
        letter.approved_by = reviewer
        letter.approved_at = letter.created_at + datetime.timedelta(hours=rng.randrange(2, 30))
        leaves_at = letter.approved_at
        forgotten = rng.random() < FORGOTTEN
    if letter.delivery == "email":
        letter.status, letter.sent_at = LetterStatus.EMAILED, leaves_at
        return
    sent_at = leaves_at + datetime.timedelta(hours=rng.randrange(2, 40))
    if forgotten or sent_at > now or now - leaves_at < STILL_WAITING:
        letter.status = LetterStatus.TO_SEND
        return
    letter.status, letter.sent_at, letter.sent_by = LetterStatus.SENT, sent_at, sender
