import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from icalendar import Calendar, Event

from clinics.links import next_url, safe_next, site_url
from clinics.models import Role
from clinics.tenancy import get_for_organization_or_404, staff_view
from config.ids import id_from_input
from physicians.models import Gatekeeper, Physician, Practice

from . import selectors, services
from .flags import physician_open_flags, touch_flag_changes
from .forms import SNOOZE_DAYS, SnoozeForm, TouchFilterForm, TouchForm
from .models import FollowUp, Touch
from .roles import OUTREACH, RUNS_OUTREACH

PAGE_SIZE = 25
RUNS_OUTREACH_WEEKS = 12
# Calendar apps show overdue follow-ups for a month; older ones live on the follow-ups page.
CALENDAR_PAST_DAYS = 30


def _scoped(model, request: HttpRequest, raw_id: str | None):
    """The organization's object with id `raw_id`, or None for a missing, malformed or foreign id."""
    pk = id_from_input(raw_id)
    if pk is None:
        return None
    return model.objects.for_organization(request.organization).filter(pk=pk).first()


@staff_view(roles=OUTREACH)
def touch_list(request: HttpRequest) -> HttpResponse:
    form = TouchFilterForm(request.GET or None, organization=request.organization)
    filters = form.filters()
    # Invalid filters (a foreign or mistyped physician) show their error and no touches, never all of them.
    touches = (
        Touch.objects.none()
        if filters is None
        else selectors.touch_list(organization=request.organization, filters=filters)
    )
    page = Paginator(touches, PAGE_SIZE).get_page(request.GET.get("page"))
    is_admin = request.membership.role == Role.ADMIN
    for touch in page.object_list:
        touch.removable = services.touch_removable_by(touch, user=request.user, is_admin=is_admin)
    query = request.GET.copy()
    query.pop("page", None)
    physician = form.cleaned_data.get("physician") if form.is_bound else None
    return render(
        request,
        "outreach/touch_list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "physician": physician,
            "physician_label": _physician_label(form, physician),
        },
    )


@require_POST
@staff_view(roles=OUTREACH)
def touch_remove(request: HttpRequest, touch_id: int) -> HttpResponse:
    touch = get_for_organization_or_404(
        Touch.objects.select_related("physician", "practice", "gatekeeper"), request.organization, pk=touch_id
    )
    with_whom = touch.with_whom
    try:
        services.touch_remove(touch=touch, user=request.user)
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


def _touch_initial(request: HttpRequest) -> dict:
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


def _after_touch(request: HttpRequest, touch: Touch, wanted: str) -> str:
    if safe := safe_next(request, wanted):
        return safe
    if touch.physician_id:
        return reverse("physicians:detail", args=[touch.physician_id])
    return reverse("physicians:practice_detail", args=[touch.practice_id])


def touch_log_from_form(request: HttpRequest, form: TouchForm) -> tuple[Touch, str]:
    """Logs the valid form's touch as the signed-in user; returns it with what to tell them.

    The words say what the touch changed on Attention: a liaison who sees a
    source still listed after a call, with nothing said, calls again.
    """
    organization, physician = request.organization, form.cleaned_data["physician"]
    before = physician_open_flags(organization=organization, physician_id=physician.pk) if physician else []
    touch = services.touch_log(organization=organization, logged_by=request.user, **form.service_arguments())
    said = [f"Logged the {touch.get_kind_display().lower()} with {touch.with_whom}."]
    if hasattr(touch, "follow_up"):
        said.append(f"Follow up on {touch.follow_up.due_on:%b %-d}.")
    if physician:
        # Views run outside a transaction: touch_log has committed, and its
        # on-commit update of the physician's flags has run.
        after = physician_open_flags(organization=organization, physician_id=physician.pk)
        said.extend(touch_flag_changes(before=before, after=after))
    return touch, " ".join(said)


@staff_view(roles=OUTREACH)
def touch_create(request: HttpRequest) -> HttpResponse:
    form = TouchForm(
        request.POST or None,
        initial=None if request.method == "POST" else _touch_initial(request),
        organization=request.organization,
        user=request.user,
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


@staff_view(roles=OUTREACH)
def followup_list(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    groups = selectors.followups_for(organization=request.organization, user=request.user, today=today)
    return render(
        request,
        "outreach/followup_list.html",
        {
            "groups": groups,
            "today": today,
            "snooze_days": SNOOZE_DAYS,
            "latest_due": services.follow_up_latest(today=today),
            "calendar_feed": selectors.calendar_feed_live(
                organization=request.organization, user=request.user
            ),
        },
    )


def _followup(request: HttpRequest, followup_id: int) -> FollowUp:
    return get_for_organization_or_404(
        FollowUp.objects.select_related("touch__physician", "touch__practice", "touch__gatekeeper"),
        request.organization,
        pk=followup_id,
    )


def _back_to_followups(request: HttpRequest) -> HttpResponse:
    return redirect(next_url(request, default="outreach:followups"))


@require_POST
@staff_view(roles=OUTREACH)
def followup_complete(request: HttpRequest, followup_id: int) -> HttpResponse:
    follow_up = _followup(request, followup_id)
    try:
        services.followup_complete(follow_up=follow_up, user=request.user)
    except PermissionDenied as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"Done: follow-up with {follow_up.touch.with_whom}.")
    return _back_to_followups(request)


@require_POST
@staff_view(roles=OUTREACH)
def followup_snooze(request: HttpRequest, followup_id: int) -> HttpResponse:
    follow_up = _followup(request, followup_id)
    form = SnoozeForm(request.POST, due_on=follow_up.due_on, today=timezone.localdate())
    if not form.is_valid():
        messages.error(request, " ".join(form.non_field_errors()) or "Choose how long to snooze, or a date.")
        return _back_to_followups(request)
    until = form.cleaned_data["until"]
    try:
        services.followup_snooze(follow_up=follow_up, user=request.user, until=until)
    except PermissionDenied as refusal:
        messages.error(request, str(refusal))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request, f"Snoozed the follow-up with {follow_up.touch.with_whom} to {until:%a, %b %-d}."
        )
    return _back_to_followups(request)


@staff_view(roles=OUTREACH)
def calendar_settings(request: HttpRequest) -> HttpResponse:
    new_url = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "reset":
            token = services.calendar_feed_reset(organization=request.organization, user=request.user)
            # The page that answers this POST is the only place the token ever appears.
            new_url = site_url(reverse("outreach:calendar_feed", args=[token]))
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
        },
    )


def _follow_up_summary(follow_up: FollowUp) -> str:
    """The event's title: whom to follow up with, and the first name of the gatekeeper spoken to.

    A gatekeeper touch always has its practice (touch_log fills it in), so the
    title names the physician or the practice, as the README promises.
    """
    touch = follow_up.touch
    whom = touch.physician or touch.practice
    if whom is None:
        return f"Follow up: {touch.gatekeeper}"
    via = f" (via {touch.gatekeeper.first_name})" if touch.gatekeeper else ""
    return f"Follow up: {whom}{via}"


def _calendar_event(follow_up: FollowUp, *, stamp: datetime.datetime, url: str) -> Event | None:
    """The follow-up as an all-day event, or None for a due date the calendar cannot hold.

    Only a row from before follow-up dates were limited can be that far out
    (9999-12-31 has no next day); the rest of the feed must still load.
    """
    try:
        end = follow_up.due_on + datetime.timedelta(days=1)
    except OverflowError:
        return None
    return Event.new(
        uid=f"followup-{follow_up.pk}@{_calendar_domain()}",
        stamp=stamp,
        start=follow_up.due_on,
        end=end,
        summary=_follow_up_summary(follow_up),
        url=url,
        transparency="TRANSPARENT",
    )


def _calendar_domain() -> str:
    """This installation's host, so event ids of a test and a live Rapport never collide in one calendar."""
    return urlsplit(settings.SITE_URL).hostname or "rapport"


def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """A person's open follow-ups as iCalendar, for the calendar app they subscribed with.

    Public, because calendar apps cannot sign in: the secret address is the
    credential. Only names of sources go out, never notes, which are free text
    and could hold patient details.
    """
    membership = selectors.calendar_membership_for_token(token=token)
    if membership is None:
        raise Http404("No such calendar.")
    zone = membership.home_clinic.timezone if membership.home_clinic else None
    with timezone.override(zone or timezone.get_default_timezone()):
        today = timezone.localdate()
    follow_ups = selectors.calendar_followups(
        organization=membership.organization,
        user=membership.user,
        due_from=today - datetime.timedelta(days=CALENDAR_PAST_DAYS),
    )
    page_url = site_url(reverse("outreach:followups"))
    stamp = timezone.now()
    events = [_calendar_event(follow_up, stamp=stamp, url=page_url) for follow_up in follow_ups]
    calendar = Calendar.new(
        name=f"Rapport follow-ups · {membership.organization.name}",
        prodid="-//Rapport//Follow-ups//EN",
        uid=f"followups-{membership.pk}@{_calendar_domain()}",
        refresh_interval=datetime.timedelta(hours=1),
        subcomponents=[event for event in events if event is not None],
    )
    # Outlook ignores REFRESH-INTERVAL and reads its own property.
    calendar.add("X-PUBLISHED-TTL", "PT1H")
    return HttpResponse(
        calendar.to_ical(),
        content_type="text/calendar; charset=utf-8",
        headers={
            "Cache-Control": "private, no-store",
            "Content-Disposition": 'inline; filename="rapport-follow-ups.ics"',
        },
    )


@staff_view(roles=RUNS_OUTREACH)
def activity(request: HttpRequest) -> HttpResponse:
    report = selectors.touch_activity_by_week(
        organization=request.organization, weeks=RUNS_OUTREACH_WEEKS, now=timezone.now()
    )
    return render(request, "outreach/activity.html", {"report": report, "weeks": RUNS_OUTREACH_WEEKS})
