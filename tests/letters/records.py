"""Care as a therapist records it, for the letter tests: moves, notes, scores, a patient's rating."""

from decimal import Decimal

from django.utils import timezone

from outcomes.models import NoteKind
from referrals.models import Status, StatusChange

from ..outcomes.factories import CareNoteFactory, NpsResponseFactory, OutcomeScoreFactory


def move(referral, status, at=None):
    """The referral moved along its pipeline at `at`, with its history row, as the services write it."""
    StatusChange.objects.create(
        organization=referral.organization,
        referral=referral,
        from_status=referral.status,
        to_status=status,
        changed_at=at or timezone.now(),
    )
    referral.status = status
    referral.save(update_fields=["status"])


def note(referral, kind=NoteKind.EVALUATION, *, therapist=None, noted_on=None, **kw):
    """A care note recorded now (its created_at is the clock's), moving the referral as recording one does."""
    made = CareNoteFactory(
        organization=referral.organization,
        referral=referral,
        kind=kind,
        noted_on=noted_on or timezone.localdate(),
        therapist=therapist,
        **kw,
    )
    if kind == NoteKind.EVALUATION and referral.status not in (Status.EVALUATED, Status.IN_CARE):
        move(referral, Status.EVALUATED)
    elif kind == NoteKind.DISCHARGE:
        move(referral, Status.DISCHARGED)
    return made


def lefs(referral, phase, score, taken_on):
    return OutcomeScoreFactory(
        organization=referral.organization,
        referral=referral,
        instrument="lefs",
        phase=phase,
        score=Decimal(score),
        taken_on=taken_on,
    )


def nps(referral, score, answered_on):
    return NpsResponseFactory(
        organization=referral.organization, referral=referral, score=score, answered_on=answered_on
    )
