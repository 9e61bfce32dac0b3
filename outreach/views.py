from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from audit.recording import shows_no_patient_data
from clinics.clock import person_today
from clinics.links import next_url, safe_next, site_url
from clinics.roles import ADMINS
from clinics.tenancy import OrganizationRequest, get_for_organization_or_404, staff_view
from config.ids import id_from_input
from physicians.models import Gatekeeper, Physician, Practice

from . import selectors, services
from .calendar import follow_ups_due_from, follow_ups_ical
from .flags import physician_open_flags, touch_flag_changes
from .forms import SNOOZE_DAYS, FollowUpTouchForm, SnoozeForm, TouchFilterForm, TouchForm
from .models import FollowUp, Touch
from .roles import OUTREACH, RUNS_OUTREACH

PAGE_SIZE = 25
RUNS_OUTREACH_WEEKS = 12


def _scoped(model, request: OrganizationRequest, raw_id: str | None):
    """The organization's object with id `raw_id`, or None for a missing, malformed or foreign id."""
    pk = id_from_input(raw_id)
    if pk is None:
        return None
    return model.objects.for_organization(request.organization).filter(pk=pk).first()


@shows_no_patient_data("touches with physicians and practices")
@staff_view(roles=OUTREACH)
def touch_list(request: OrganizationRequest) -> HttpResponse:
    form = TouchFilterForm(request.GET or None, organization=request.organization)
    filters = form.filters()
    # Invalid filters (a foreign or mistyped physician) show their error and no touches, never all of them.
    touches = (
        Touch.objects.none()
        if filters is None
        else selectors.touch_list(organization=request.organization, filters=filters)
    )
    page = Paginator(touches, PAGE_SIZE).get_page(request.GET.get("page"))
    for touch in page.object_list:
        touch.removable = services.touch_removable_by(touch, acting=request.membership)  # type: ignore[attr-defined]
    query = request.GET.copy()
    query.pop("page", None)
    physician = form.cleaned_data.get("physician") if form.is_bound else None
    return render(
        request,
        "outreach/touch_list.html",
        {
            "form": form,
            "filters": filters,
            "page": page,
            "query": query.urlencode(),
            "physician": physician,
            "physician_label": _physician_label(form, physician),
        },
    )


@require_POST
@shows_no_patient_data("removes a touch")
@staff_view(roles=OUTREACH)
def touch_remove(request: OrganizationRequest, touch_id: int) -> HttpResponse:
    touch = get_for_organization_or_404(
        Touch.objects.select_related("physician", "practice", "gatekeeper"), request.organization, pk=touch_id
    )
    with_whom = touch.with_whom
    try:
        services.touch_remove(touch=touch, acting=request.membership)
    except (PermissionDenied, ValidationError) as refusal:
        messages.error(request, " ".join(getattr(refusal, "messages", [str(refusal)])))
    else:
        messages.success(request, f"Removed the {touch.get_kind_display().lower()} with {with_whom}.")
    return redirect(next_url(request, default="outreach:touch_list"))


def _physician_label(form: TouchForm | TouchFilterForm, physician: Physician | None) -> str:
    """The typeahead's text: the physician's name, or what was typed when it named nobody."""
    if physician is not None:
        return physician.display_name
    return form["q"].value() or ""


def _touch_initial(request: OrganizationRequest) -> dict:
    """Who the touch is with, from the link that opened the form (e.g. a physician's page)."""
    initial = {
        "occurred_at": timezone.localtime().replace(second=0, microsecond=0),
        "made_by": request.user.pk,
        "next": request.GET.get("next", ""),
    }
    gatekeeper = _scoped(Gatekeeper, request, request.GET.get("gatekeeper"))
    practice = _scoped(Practice, request, request.GET.get("practice"))
    if gatekeeper:
        initial["gatekeeper"] = gatekeeper.pk
        practice = practice or gatekeeper.practice
    if practice:
        initial["practice"] = practice.pk
    if physician := _scoped(Physician, request, request.GET.get("physician")):
        initial["physician"] = physician.pk
    return initial


def _after_touch(request: OrganizationRequest, touch: Touch, wanted: str) -> str:
    if safe := safe_next(request, wanted):
        return safe
    if touch.physician_id:
        return reverse("physicians:detail", args=[touch.physician_id])
    return reverse("physicians:practice_detail", args=[touch.practice_id])


def touch_log_from_form(request: OrganizationRequest, form: TouchForm) -> tuple[Touch, str]:
    """Logs the valid form's touch as the signed-in user; returns it with what to tell them."""
    return _log_and_tell(
        request,
        physician=form.cleaned_data["physician"],
        log=lambda: services.touch_log(
            organization=request.organization, logged_by=request.user, **form.service_arguments()
        ),
    )


def _log_and_tell(
    request: OrganizationRequest, *, physician: Physician | None, log: Callable[[], Touch]
) -> tuple[Touch, str]:
    """Calls `log`, which logs a touch with `physician`; returns the touch with what to tell the user.

    The words say what the touch changed on Attention: a liaison who sees a
    source still listed after a call, with nothing said, calls again.
    """
    organization = request.organization
    before = physician_open_flags(organization=organization, physician_id=physician.pk) if physician else []
    touch = log()
    said = [f"Logged the {touch.get_kind_display().lower()} with {touch.with_whom}."]
    if hasattr(touch, "follow_up"):
        said.append(f"Follow up on {touch.follow_up.due_on:%b %-d}.")
    if physician:
        # Views run outside a transaction: touch_log has committed, and its
        # on-commit update of the physician's flags has run.
        after = physician_open_flags(organization=organization, physician_id=physician.pk)
        said.extend(touch_flag_changes(before=before, after=after))
    return touch, " ".join(said)


@shows_no_patient_data("a touch's form")
@staff_view(roles=OUTREACH)
def touch_create(request: OrganizationRequest) -> HttpResponse:
    form = TouchForm(
        request.POST or None,
        initial=None if request.method == "POST" else _touch_initial(request),
        organization=request.organization,
        user=request.user,
        today=person_today(request.membership),
    )
    if request.method == "POST" and form.is_valid():
        try:
            touch, said = touch_log_from_form(request, form)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, said)
            return redirect(_after_touch(request, touch, form.cleaned_data["next"]))
    if form.is_bound:
        physician = form.cleaned_data.get("physician")
    else:
        physician = _scoped(Physician, request, str(form["physician"].value() or ""))
    if physician is not None:
        form.offer_practices_of(physician)
    return render(
        request,
        "outreach/touch_form.html",
        {
            "form": form,
            "physician": physician,
            "physician_label": _physician_label(form, physician),
            "cancel_url": safe_next(request, form["next"].value()) or reverse("outreach:touch_list"),
        },
    )


@shows_no_patient_data("follow-ups with physicians")
@staff_view(roles=OUTREACH)
def followup_list(request: OrganizationRequest) -> HttpResponse:
    """The person's follow-ups; an admin's `?everyone=1` shows the whole organization's, with their owners."""
    today = person_today(request.membership)
    everyone = request.GET.get("everyone") == "1" and request.membership.role in ADMINS
    groups = selectors.followups_for(
        organization=request.organization, user=request.user, today=today, everyone=everyone
    )
    return render(
        request,
        "outreach/followup_list.html",
        {
            "groups": groups,
            "everyone": everyone,
            "may_see_everyone": request.membership.role in ADMINS,
            "just_done": _just_done(groups, request.GET.get("done")),
            "today": today,
            "snooze_days": SNOOZE_DAYS,
            "latest_due": services.follow_up_latest(today=today),
            "calendar_feed": selectors.calendar_feed_live(
                organization=request.organization, user=request.user
            ),
        },
    )


def _just_done(groups: selectors.FollowUpGroups, raw_id: str | None) -> FollowUp | None:
    """The follow-up just completed (`?done=<id>`), while its touch is still to be logged: the page offers it.

    Looked for among the user's recently completed ones, already loaded: an
    id of someone else's or of another organization's follow-up finds nothing.
    """
    return next(
        (
            follow_up
            for follow_up in groups.recently_completed
            if str(follow_up.pk) == raw_id and follow_up.logged_touch_id is None
        ),
        None,
    )


def _followup(request: OrganizationRequest, followup_id: int) -> FollowUp:
    return get_for_organization_or_404(
        FollowUp.objects.select_related("touch__physician", "touch__practice", "touch__gatekeeper"),
        request.organization,
        pk=followup_id,
    )


def _back_to_followups(request: OrganizationRequest) -> HttpResponse:
    return redirect(next_url(request, default="outreach:followups"))


@require_POST
@shows_no_patient_data("completes a follow-up")
@staff_view(roles=OUTREACH)
def followup_complete(request: OrganizationRequest, followup_id: int) -> HttpResponse:
    follow_up = _followup(request, followup_id)
    try:
        services.followup_complete(follow_up=follow_up, acting=request.membership)
    except PermissionDenied as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"Done: follow-up with {follow_up.touch.with_whom}.")
        # Back on the list, the follow-up offers to log the touch it stood for.
        return redirect(next_url(request, default=f"{reverse('outreach:followups')}?done={follow_up.pk}"))
    return _back_to_followups(request)


@require_POST
@shows_no_patient_data("logs a follow-up's touch")
@staff_view(roles=OUTREACH)
def followup_log_touch(request: OrganizationRequest, followup_id: int) -> HttpResponse:
    """Logs the touch a done follow-up stood for (one click), so the contact counts toward cadence."""
    follow_up = _followup(request, followup_id)
    form = FollowUpTouchForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the kind of contact you made; a note has at most 1,000 characters.")
        return _back_to_followups(request)
    try:
        _, said = _log_and_tell(
            request,
            physician=follow_up.touch.physician,
            log=lambda: services.followup_log_touch(
                follow_up=follow_up,
                acting=request.membership,
                kind=form.cleaned_data["kind"],
                occurred_at=timezone.now(),
                notes=form.cleaned_data["notes"],
            ),
        )
    except PermissionDenied as refusal:
        messages.error(request, str(refusal))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, said)
    return _back_to_followups(request)


@require_POST
@shows_no_patient_data("snoozes a follow-up")
@staff_view(roles=OUTREACH)
def followup_snooze(request: OrganizationRequest, followup_id: int) -> HttpResponse:
    follow_up = _followup(request, followup_id)
    form = SnoozeForm(request.POST, due_on=follow_up.due_on, today=person_today(request.membership))
    if not form.is_valid():
        errors = " ".join(str(error) for error in form.non_field_errors())
        messages.error(request, errors or "Choose how long to snooze, or a date.")
        return _back_to_followups(request)
    until = form.cleaned_data["until"]
    try:
        services.followup_snooze(follow_up=follow_up, acting=request.membership, until=until)
    except PermissionDenied as refusal:
        messages.error(request, str(refusal))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request, f"Snoozed the follow-up with {follow_up.touch.with_whom} to {until:%a, %b %-d}."
        )
    return _back_to_followups(request)


@shows_no_patient_data("the calendar address")
@staff_view(roles=OUTREACH)
def calendar_settings(request: OrganizationRequest) -> HttpResponse:
    new_url = webcal_url = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "reset":
            token = services.calendar_feed_reset(organization=request.organization, user=request.user)
            # The page that answers this POST is the only place the token ever appears.
            new_url = site_url(reverse("outreach:calendar_feed", args=[token]))
            # Apple's devices open webcal:// addresses in Calendar, as a subscription to confirm.
            webcal_url = "webcal://" + new_url.split("://", 1)[1]
        elif action == "revoke":
            services.calendar_feed_revoke(organization=request.organization, user=request.user)
            messages.success(
                request, "Your calendar address is turned off. Calendars subscribed to it stop updating."
            )
            return redirect("outreach:calendar_settings")
    return render(
        request,
        "outreach/calendar_settings.html",
        {
            "feed": selectors.calendar_feed_live(organization=request.organization, user=request.user),
            "new_url": new_url,
            "webcal_url": webcal_url,
        },
    )


@shows_no_patient_data("follow-ups with physicians, as a calendar")
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """A person's open follow-ups as iCalendar, for the calendar app they subscribed with.

    Public, because calendar apps cannot sign in: the secret address is the credential.
    """
    membership = selectors.calendar_membership_for_token(token=token)
    if membership is None:
        raise Http404("No such calendar.")
    now = timezone.now()
    follow_ups = selectors.calendar_followups(
        organization=membership.organization,
        user=membership.user,
        due_from=follow_ups_due_from(membership=membership, now=now),
    )
    document = follow_ups_ical(
        membership=membership,
        follow_ups=follow_ups,
        page_url=site_url(reverse("outreach:followups")),
        now=now,
    )
    return HttpResponse(
        document,
        content_type="text/calendar; charset=utf-8",
        headers={
            "Cache-Control": "private, no-store",
            "Content-Disposition": 'inline; filename="rapport-follow-ups.ics"',
        },
    )


@shows_no_patient_data("outreach counts per person")
@staff_view(roles=RUNS_OUTREACH)
def activity(request: OrganizationRequest) -> HttpResponse:
    report = selectors.touch_activity_by_week(
        organization=request.organization, weeks=RUNS_OUTREACH_WEEKS, now=timezone.now()
    )
    return render(request, "outreach/activity.html", {"report": report, "weeks": RUNS_OUTREACH_WEEKS})
