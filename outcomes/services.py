"""Writes of outcomes: a care note with its scores (and, at discharge, the NPS), NPS answers, survey links.

One write path: the quick form, the NPS form, the patient's survey page and
the demo data all come through here (the demo through `outcomes_create_bulk`,
which checks every row by the same rules before one insert per table).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from clinics.clock import clinic_zone, local_date, organization_today
from clinics.history import history_record_bulk
from clinics.inputs import ModelFields
from clinics.links import site_url
from clinics.models import Membership, Organization
from clinics.roles import acts_as
from outbox.models import OutboundEmail
from outbox.services import email_enqueue
from referrals.models import TRANSITIONS, Referral, Status
from referrals.services import referral_transition, referrals_changed

from .instruments import instrument
from .models import (
    NOTE_PHASE,
    ONCE_PER_REFERRAL,
    CareNote,
    NoteKind,
    NpsResponse,
    NpsSurvey,
    OutcomeScore,
    Phase,
)
from .roles import RECORDERS

SURVEY_SALT = "outcomes.nps-survey"
# How long a patient's survey link works; a new link can be made any time before the answer.
SURVEY_LINK_DAYS = 30
SURVEY_LINK_AGE = timedelta(days=SURVEY_LINK_DAYS)

# The move a note may make on the referral, when the pipeline allows it.
NOTE_MOVES = {NoteKind.EVALUATION: Status.EVALUATED, NoteKind.DISCHARGE: Status.DISCHARGED}


def _require_recorder(acting: Membership, referral: Referral) -> None:
    if not acts_as(acting, RECORDERS, organization_id=referral.organization_id):
        raise PermissionDenied("Only therapists and admins record care notes, outcomes and NPS.")


@dataclass(frozen=True, kw_only=True)
class CareNoteFields(ModelFields):
    kind: str
    noted_on: date
    therapist: User | None = None
    findings: str = ""
    plan: str = ""


@dataclass(frozen=True)
class ScoreEntry:
    """One outcome measure as typed: its total, or its items (None for a blank one) to compute it from."""

    instrument: str
    score: Decimal | None = None
    items: tuple[int | None, ...] = ()

    def total(self) -> Decimal:
        measure = instrument(self.instrument)
        if self.items:
            return measure.score_from_items(list(self.items))
        if self.score is None:
            raise ValidationError(f"Type the {measure.name} score.")
        measure.check_score(self.score)
        return self.score


@dataclass(frozen=True)
class NpsEntry:
    score: int
    comment: str = ""


def note_move(referral: Referral, kind: str) -> str | None:
    """The status a note of `kind` may also move the referral to; None where the pipeline forbids it."""
    to_status = NOTE_MOVES.get(NoteKind(kind))
    return to_status if to_status in TRANSITIONS[referral.status] else None


def received_on(referral: Referral) -> date:
    return local_date(referral.received_at, clinic_zone(referral.clinic))


def _score_rows(
    *, referral: Referral, phase: str, taken_on: date, entries: Sequence[ScoreEntry], recorded_by: User | None
) -> list[OutcomeScore]:
    """Checked rows, not saved: each total in its instrument's range, one instrument once."""
    codes = [entry.instrument for entry in entries]
    repeated = {code for code in codes if codes.count(code) > 1}
    if repeated:
        raise ValidationError(f"{instrument(sorted(repeated)[0]).name} is typed twice; keep one score.")
    rows = []
    for entry in entries:
        try:
            total = entry.total()
        except ValidationError as error:
            raise ValidationError({f"score_{entry.instrument}": error.messages}) from None
        rows.append(
            OutcomeScore(
                organization_id=referral.organization_id,
                referral=referral,
                instrument=entry.instrument,
                phase=phase,
                score=total,
                items=list(entry.items),
                taken_on=taken_on,
                recorded_by=recorded_by,
            )
        )
    return rows


def _refuse_repeats(*, referral: Referral, kind: str, rows: Sequence[OutcomeScore]) -> None:
    """A clear word before the database's unique constraints would refuse the same thing."""
    if kind in ONCE_PER_REFERRAL:
        earlier = CareNote.objects.filter(
            organization_id=referral.organization_id, referral=referral, kind=kind
        )
        if note := earlier.first():
            raise ValidationError(
                f"This referral already has its {note.get_kind_display().lower()} note, "
                f"of {note.noted_on:%b %-d, %Y}."
            )
    once = [row.instrument for row in rows if row.phase in (Phase.INTAKE, Phase.DISCHARGE)]
    if once:
        taken = set(
            OutcomeScore.objects.filter(
                organization_id=referral.organization_id,
                referral=referral,
                phase=rows[0].phase,
                instrument__in=once,
            ).values_list("instrument", flat=True)
        )
        if taken:
            name = instrument(sorted(taken)[0]).name
            raise ValidationError(
                {f"score_{sorted(taken)[0]}": f"This referral already has its {rows[0].phase} {name} score."}
            )


@transaction.atomic
def care_note_record(
    *,
    acting: Membership,
    referral: Referral,
    note: CareNoteFields,
    scores: Sequence[ScoreEntry] = (),
    nps: NpsEntry | None = None,
    move_referral: bool = False,
) -> CareNote:
    """Records an evaluation, progress note or discharge with the scores of its phase, in one transaction.

    1. Intake scores go with the evaluation, progress scores with a progress
       note, discharge scores (and the patient's NPS) with the discharge.
    2. An episode has one evaluation and one discharge, and one intake and
       one discharge score per instrument: a repeat is refused in words.
    3. With `move_referral`, the referral is also marked evaluated or
       discharged through the referrals service, which keeps its own rules
       and history; a move it refuses undoes the whole note.
    """
    _require_recorder(acting, referral)
    kind = NoteKind(note.kind)
    if note.noted_on < received_on(referral):
        raise ValidationError({"noted_on": "The note cannot be dated before the referral was received."})
    if nps is not None and kind != NoteKind.DISCHARGE:
        raise ValidationError("The patient's NPS is recorded with the discharge.")
    care_note = CareNote(organization_id=referral.organization_id, referral=referral)
    note.assign_to(care_note)
    care_note.full_clean(validate_constraints=False)
    if (
        note.therapist is not None
        and not Membership.objects.filter(
            organization_id=referral.organization_id, user=note.therapist
        ).exists()
    ):
        raise ValidationError({"therapist": "Choose one of your organization's therapists."})
    rows = _score_rows(
        referral=referral,
        phase=NOTE_PHASE[kind],
        taken_on=note.noted_on,
        entries=scores,
        recorded_by=acting.user,
    )
    _refuse_repeats(referral=referral, kind=kind, rows=rows)
    care_note.save()
    for row in rows:
        row.care_note = care_note
        row.full_clean(validate_constraints=False)
    OutcomeScore.objects.bulk_create(rows)
    history_record_bulk(rows, user=acting.user, created=True)
    if nps is not None:
        _nps_save(referral=referral, entry=nps, answered_on=note.noted_on, recorded_by=acting.user)
    if move_referral:
        to_status = note_move(referral, kind)
        if to_status is None:
            raise ValidationError(
                f"A {referral.get_status_display().lower()} referral cannot be moved from here."
            )
        referral_transition(referral=referral, user=acting.user, to_status=to_status)
    # Figures derived from referrals (analytics' rollups) read their scores and NPS.
    referrals_changed(referral_ids=[referral.pk])
    return care_note


class NpsAlreadyAnswered(ValidationError):
    """A second answer for a referral: typed twice, or typed while the patient answered."""


def _nps_save(
    *,
    referral: Referral,
    entry: NpsEntry,
    answered_on: date,
    recorded_by: User | None,
    by_patient: bool = False,
) -> NpsResponse:
    response = NpsResponse(
        organization_id=referral.organization_id,
        referral=referral,
        score=entry.score,
        comment=entry.comment,
        answered_on=answered_on,
        answered_by_patient=by_patient,
        recorded_by=recorded_by,
    )
    response.full_clean(validate_constraints=False)
    if not 0 <= entry.score <= 10:
        raise ValidationError({"nps_score": "The score runs from 0 to 10."})
    try:
        with transaction.atomic():
            response.save()
    except IntegrityError:
        raise NpsAlreadyAnswered({"nps_score": "This referral's patient has already answered."}) from None
    return response


@transaction.atomic
def nps_record(*, acting: Membership, referral: Referral, entry: NpsEntry, answered_on: date) -> NpsResponse:
    """Staff type the patient's answer (a phone call after discharge); one answer per referral."""
    _require_recorder(acting, referral)
    if answered_on < received_on(referral):
        raise ValidationError({"answered_on": "The answer cannot be dated before the referral was received."})
    response = _nps_save(referral=referral, entry=entry, answered_on=answered_on, recorded_by=acting.user)
    referrals_changed(referral_ids=[referral.pk])
    return response


@transaction.atomic
def outcome_score_remove(*, acting: Membership, score: OutcomeScore) -> None:
    """Removes a score typed by mistake, so the right one can be typed."""
    _require_recorder(acting, score.referral)
    referral_id = score.referral_id
    score.delete()
    referrals_changed(referral_ids=[referral_id])


# The patient's survey link.


class SurveyLinkError(Exception):
    """Why a survey link cannot be answered, in words for the patient."""

    title = "This link does not work"
    message = "The link is incomplete or was changed. Please use the link exactly as you received it."


class SurveyLinkExpired(SurveyLinkError):
    title = "This link has expired"
    message = (
        f"Survey links work for {SURVEY_LINK_DAYS} days. If you would still like to answer, "
        "please ask the clinic for a new one."
    )


class SurveyAlreadyAnswered(SurveyLinkError):
    title = "Thank you, we have your answer"
    message = "This survey has been answered. Each link can be answered once."


def survey_token(survey: NpsSurvey) -> str:
    """The signed, timestamped id of the survey: nothing about the patient is in it."""
    return signing.dumps(survey.pk, salt=SURVEY_SALT)


def survey_url(token: str) -> str:
    return site_url(reverse("outcomes:survey", kwargs={"token": token}))


@transaction.atomic
def nps_survey_link(*, acting: Membership, referral: Referral) -> str:
    """A fresh link for the referral's patient to answer once, without signing in; its token.

    Every link of a referral answers the same survey, so a second link never
    makes a second answer possible.
    """
    _require_recorder(acting, referral)
    now = timezone.now()
    survey, created = NpsSurvey.objects.get_or_create(
        organization_id=referral.organization_id,
        referral=referral,
        defaults={"created_by": acting.user, "created_at": now, "last_link_at": now},
    )
    if (
        survey.answered_at is not None
        or NpsResponse.objects.filter(organization_id=referral.organization_id, referral=referral).exists()
    ):
        raise ValidationError("The patient has already answered; a new link would have nothing to ask.")
    if not created:
        survey.last_link_at = now
        survey.save(update_fields=["last_link_at"])
    return survey_token(survey)


@transaction.atomic
def nps_survey_email(*, acting: Membership, referral: Referral) -> OutboundEmail:
    """Emails the patient a survey link; once per referral (a second click returns the email already queued).

    The email names neither the patient nor the care: a clinic asks how likely
    they are to recommend it. The body holds the link, a credential, so the
    outbox keeps it out of the email log.
    """
    if not referral.patient_email:
        raise ValidationError("The referral has no patient email; copy the link and send it another way.")
    token = nps_survey_link(acting=acting, referral=referral)
    return email_enqueue(
        organization=referral.organization,
        kind="nps_survey",
        idempotency_key=f"nps-survey:{referral.organization_id}:{referral.pk}",
        to=referral.patient_email,
        template="outcomes/email/nps_survey",
        context={
            "organization_name": referral.organization.name,
            "clinic_name": referral.clinic.name,
            "survey_url": survey_url(token),
            "days": SURVEY_LINK_DAYS,
        },
        confidential=True,
    )


def survey_for_token(token: str) -> NpsSurvey:
    """The survey a link answers, or the reason it answers none (SurveyLinkError and its kinds)."""
    try:
        survey_id = signing.loads(token, salt=SURVEY_SALT, max_age=SURVEY_LINK_AGE)
    except signing.SignatureExpired:
        raise SurveyLinkExpired from None
    except signing.BadSignature:
        raise SurveyLinkError from None
    if not isinstance(survey_id, int):
        raise SurveyLinkError
    survey = NpsSurvey.objects.select_related("organization", "referral__clinic").filter(pk=survey_id).first()
    if survey is None:
        raise SurveyLinkError
    if survey.answered_at is not None:
        raise SurveyAlreadyAnswered
    return survey


@transaction.atomic
def nps_survey_answer(*, token: str, entry: NpsEntry, now: datetime | None = None) -> NpsResponse:
    """The patient's answer through their link: once, and for that referral only.

    The survey is claimed with a conditional update, so two submissions at
    once (a double click, two tabs) record one answer; an answer staff typed
    meanwhile makes the link answered too.
    """
    survey = survey_for_token(token)
    now = now or timezone.now()
    claimed = NpsSurvey.objects.filter(pk=survey.pk, answered_at__isnull=True).update(answered_at=now)
    if not claimed:
        raise SurveyAlreadyAnswered
    try:
        response = _nps_save(
            referral=survey.referral,
            entry=entry,
            answered_on=organization_today(survey.organization, now=now),
            recorded_by=None,
            by_patient=True,
        )
    except NpsAlreadyAnswered:
        raise SurveyAlreadyAnswered from None
    referrals_changed(referral_ids=[survey.referral_id])
    return response


@dataclass(frozen=True, kw_only=True)
class OutcomeRecord:
    """One referral's outcome history for `outcomes_create_bulk`: notes, each with its scores, and the NPS."""

    referral: Referral
    notes: Sequence[tuple[CareNoteFields, Sequence[ScoreEntry]]]
    nps: NpsEntry | None = None
    nps_on: date | None = None
    nps_by_patient: bool = False


def outcomes_create_bulk(*, organization: Organization, records: Sequence[OutcomeRecord]) -> int:
    """The bulk path (demo data): the checks of `care_note_record`, then one insert per table.

    Every row is checked (instrument, range and precision, phase, dates, one
    evaluation and one discharge per referral, each measure once per note)
    before anything is written; a repeat of a row already stored is refused
    by the database's constraints, the whole batch with it. The therapists
    are the caller's to choose among the organization's. Returns the number
    of notes.
    """
    notes: list[CareNote] = []
    scores: list[list[OutcomeScore]] = []
    answers: list[NpsResponse] = []
    for record in records:
        referral = record.referral
        if referral.organization_id != organization.pk:
            raise PermissionDenied("A referral of another organization.")
        kinds = [fields.kind for fields, _ in record.notes]
        if any(kinds.count(kind) > 1 for kind in ONCE_PER_REFERRAL):
            raise ValidationError(f"Referral #{referral.number}: one evaluation and one discharge at most.")
        for fields, entries in record.notes:
            if fields.noted_on < received_on(referral):
                raise ValidationError(f"Referral #{referral.number}: a note dated before the referral.")
            note = CareNote(organization=organization, referral=referral)
            fields.assign_to(note)
            # The foreign keys are the referrals and therapists loaded above: checking each costs a query.
            note.clean_fields(exclude=["organization", "referral", "therapist"])
            notes.append(note)
            scores.append(
                _score_rows(
                    referral=referral,
                    phase=NOTE_PHASE[NoteKind(fields.kind)],
                    taken_on=fields.noted_on,
                    entries=entries,
                    recorded_by=fields.therapist,
                )
            )
        if record.nps is not None:
            if not 0 <= record.nps.score <= 10 or record.nps_on is None:
                raise ValidationError(f"Referral #{referral.number}: an NPS of 0–10 with its date.")
            answers.append(
                NpsResponse(
                    organization=organization,
                    referral=referral,
                    score=record.nps.score,
                    comment=record.nps.comment,
                    answered_on=record.nps_on,
                    answered_by_patient=record.nps_by_patient,
                )
            )
    with transaction.atomic():
        CareNote.objects.bulk_create(notes)
        for note, rows in zip(notes, scores, strict=True):
            for row in rows:
                row.care_note = note
        created = OutcomeScore.objects.bulk_create([row for rows in scores for row in rows])
        history_record_bulk(created, user=None, created=True)
        NpsResponse.objects.bulk_create(answers)
        referrals_changed(referral_ids={record.referral.pk for record in records})
    return len(notes)
