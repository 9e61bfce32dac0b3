"""Pages to record care (the quick note form, NPS, survey links), the patient's survey, and the scorecards."""

import calendar
from datetime import date

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from audit.recording import records_access, shows_no_patient_data
from clinics.clock import organization_today, person_today
from clinics.models import Clinic, Role
from clinics.tenancy import OrganizationRequest, get_for_organization_or_404, staff_view
from physicians.models import Physician
from referrals.models import Referral, Status

from . import selectors, services
from .forms import CareNoteForm, NpsForm, SurveyForm
from .instruments import INSTRUMENTS
from .models import NoteKind, OutcomeScore, Phase
from .roles import RECORDERS, SCORECARD_READERS


def _referral(request: OrganizationRequest, referral_id: int) -> Referral:
    return get_for_organization_or_404(
        Referral.objects.select_related("clinic", "physician", "organization"),
        request.organization,
        pk=referral_id,
    )


def _add_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's refusal beside the field it names, or above the form for anything else."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _default_kind(referral: Referral, kinds_noted: set[str]) -> str:
    if NoteKind.EVALUATION not in kinds_noted:
        return NoteKind.EVALUATION
    if referral.status == Status.DISCHARGED and NoteKind.DISCHARGE not in kinds_noted:
        return NoteKind.DISCHARGE
    return NoteKind.PROGRESS


@records_access()
@staff_view(roles=RECORDERS)
def care_note_create(request: OrganizationRequest, referral_id: int) -> HttpResponse:
    """The quick form: an evaluation, progress note or discharge with its scores, in one save."""
    referral = _referral(request, referral_id)
    recorded = selectors.referral_outcomes(organization=request.organization, referral=referral)
    kind = request.GET.get("kind")
    if kind not in NoteKind.values:
        kind = _default_kind(referral, recorded.note_kinds)
    move_to = services.note_move(referral, kind)
    therapist = request.user if request.membership.role == Role.THERAPIST else referral.therapist
    form = CareNoteForm(
        request.POST or None,
        organization=request.organization,
        kind=kind,
        move_to=Status(move_to).label.lower() if move_to else None,
        initial={"noted_on": person_today(request.membership), "therapist": therapist},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.care_note_record(
                acting=request.membership,
                referral=referral,
                note=form.note_fields(),
                scores=form.score_entries(),
                nps=form.nps_entry(),
                move_referral=form.cleaned_data.get("move_referral", False),
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, f"{NoteKind(kind).label} recorded for referral #{referral.number}.")
            return redirect("referrals:detail", referral_id=referral.pk)
    # Progress and discharge scores are typed against the intake: those instruments come first.
    intake = {row.instrument: row for row in recorded.scores if row.phase == Phase.INTAKE}
    fields = form.score_fields()
    if kind == NoteKind.EVALUATION or not intake:
        first, others = fields, []
    else:
        first = [field for field in fields if field.field.measure.code in intake]
        others = [field for field in fields if field.field.measure.code not in intake]
    others_open = any(field.value() not in (None, "") or field.errors for field in others)
    return render(
        request,
        "outcomes/care_note_form.html",
        {
            "form": form,
            "referral": referral,
            "kind": NoteKind(kind),
            "kinds": NoteKind,
            "kinds_noted": recorded.note_kinds,
            "title": f"{NoteKind(kind).label} · referral #{referral.number}",
            "score_rows": [(field, intake.get(field.field.measure.code)) for field in first],
            "other_rows": [(field, None) for field in others],
            "others_open": others_open,
            "cancel_url": reverse("referrals:detail", args=[referral.pk]),
        },
    )


@records_access()
@staff_view(roles=RECORDERS)
def nps_create(request: OrganizationRequest, referral_id: int) -> HttpResponse:
    """The patient's answer typed by staff."""
    referral = _referral(request, referral_id)
    form = NpsForm(request.POST or None, initial={"answered_on": person_today(request.membership)})
    if request.method == "POST" and form.is_valid():
        try:
            services.nps_record(
                acting=request.membership,
                referral=referral,
                entry=form.entry(),
                answered_on=form.cleaned_data["answered_on"],
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, "The patient's answer is recorded.")
            return redirect("referrals:detail", referral_id=referral.pk)
    return render(
        request,
        "outcomes/nps_form.html",
        {
            "form": form,
            "referral": referral,
            "title": f"Patient NPS · referral #{referral.number}",
            "cancel_url": reverse("referrals:detail", args=[referral.pk]),
        },
    )


@require_POST
@records_access()
@staff_view(roles=RECORDERS)
def survey_link(request: OrganizationRequest, referral_id: int) -> HttpResponse:
    """Makes a link for the patient and shows it once, to copy into a text message or email."""
    referral = _referral(request, referral_id)
    try:
        token = services.nps_survey_link(acting=request.membership, referral=referral)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("referrals:detail", referral_id=referral.pk)
    return render(
        request,
        "outcomes/survey_link.html",
        {
            "referral": referral,
            "survey_url": services.survey_url(token),
            "days": services.SURVEY_LINK_DAYS,
        },
    )


@require_POST
@records_access()
@staff_view(roles=RECORDERS)
def survey_email(request: OrganizationRequest, referral_id: int) -> HttpResponse:
    referral = _referral(request, referral_id)
    try:
        services.nps_survey_email(acting=request.membership, referral=referral)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "The survey is on its way to the patient's email.")
    return redirect("referrals:detail", referral_id=referral.pk)


@require_POST
@records_access(object_kwarg="score_id", object_type="outcome score")
@staff_view(roles=RECORDERS)
def score_remove(request: OrganizationRequest, score_id: int) -> HttpResponse:
    score = get_for_organization_or_404(
        OutcomeScore.objects.select_related("referral"), request.organization, pk=score_id
    )
    services.outcome_score_remove(acting=request.membership, score=score)
    messages.success(
        request, f"The {score.get_phase_display().lower()} {score.measure.name} score is removed."
    )
    return redirect("referrals:detail", referral_id=score.referral_id)


# The patient's page: no sign-in; the signed link is the only key, and it opens this one question.
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@records_access()
def survey(request: HttpRequest, token: str) -> HttpResponse:
    try:
        answered_survey = services.survey_for_token(token)
    except services.SurveyLinkError as problem:
        return _survey_problem(request, problem)
    organization = answered_survey.organization
    form = SurveyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.nps_survey_answer(token=token, entry=form.entry())
        except services.SurveyLinkError as problem:
            return _survey_problem(request, problem)
        return render(request, "outcomes/survey_thanks.html", {"organization": organization})
    return render(
        request,
        "outcomes/survey.html",
        {"form": form, "organization": organization, "clinic": answered_survey.referral.clinic},
    )


def _survey_problem(request: HttpRequest, problem: services.SurveyLinkError) -> HttpResponse:
    # 410 for a link that worked once (expired, answered), 404 for one that never did.
    status = 404 if type(problem) is services.SurveyLinkError else 410
    return render(request, "outcomes/survey_problem.html", {"problem": problem}, status=status)


# Scorecards.

PERIODS = {3: "Last 3 months", 6: "Last 6 months", 12: "Last 12 months", 24: "Last 24 months"}
DEFAULT_PERIOD = 12


def months_before(day: date, months: int) -> date:
    """The same day `months` earlier, or that month's last day where the month is shorter."""
    year, month_index = divmod(day.year * 12 + day.month - 1 - months, 12)
    month = month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _period(request: OrganizationRequest) -> tuple[int, date, date]:
    try:
        months = int(request.GET.get("months", DEFAULT_PERIOD))
    except ValueError:
        months = DEFAULT_PERIOD
    if months not in PERIODS:
        months = DEFAULT_PERIOD
    until = organization_today(request.organization)
    return months, months_before(until, months), until


@shows_no_patient_data("outcomes by source, in aggregate")
@staff_view(roles=SCORECARD_READERS)
def scorecards(request: OrganizationRequest) -> HttpResponse:
    """The organization's NPS and outcomes, and each referring physician's, with their scorecards."""
    months, since, until = _period(request)
    card = selectors.scorecard(organization=request.organization, since=since, until=until)
    sources = selectors.scorecard_sources(organization=request.organization, since=since, until=until)
    return render(
        request,
        "outcomes/scorecards.html",
        {"card": card, "sources": sources, "months": months, "periods": PERIODS},
    )


@records_access(object_kwarg="physician_id", object_type="physician scorecard")
@staff_view(roles=SCORECARD_READERS)
def physician_scorecard(request: OrganizationRequest, physician_id: int) -> HttpResponse:
    physician = get_for_organization_or_404(Physician, request.organization, pk=physician_id)
    months, since, until = _period(request)
    card = selectors.scorecard(
        organization=request.organization, since=since, until=until, physician_id=physician.pk
    )
    return render(
        request,
        "outcomes/scorecard.html",
        {
            "card": card,
            "physician": physician,
            "months": months,
            "periods": PERIODS,
            "instruments": INSTRUMENTS,
        },
    )


@shows_no_patient_data("the organization's outcomes, in aggregate")
@staff_view(roles=SCORECARD_READERS)
def organization_scorecard(request: OrganizationRequest) -> HttpResponse:
    """The clinic's own scorecard, to hand to a prospect: all its referrals, or one location's."""
    months, since, until = _period(request)
    clinics = list(Clinic.objects.for_organization(request.organization).order_by("name"))
    clinic = next((c for c in clinics if str(c.pk) == request.GET.get("clinic")), None)
    card = selectors.scorecard(
        organization=request.organization,
        since=since,
        until=until,
        clinic_id=clinic.pk if clinic else None,
    )
    return render(
        request,
        "outcomes/scorecard.html",
        {
            "card": card,
            "clinic": clinic,
            "clinics": clinics,
            "months": months,
            "periods": PERIODS,
            "instruments": INSTRUMENTS,
        },
    )
