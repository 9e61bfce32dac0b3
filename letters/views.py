"""Pages of outcome letters: the queues, the history, one letter, its print view, and the emailed link."""

from axes.helpers import get_client_ip_address
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from audit.models import AccessKind
from audit.recording import note_shown, records_access
from clinics.models import Role
from clinics.roles import ALL_ROLES
from clinics.tenancy import OrganizationRequest, staff_view
from physicians.models import Physician

from . import selectors, services
from .forms import LetterFilterForm, LetterTextForm
from .home_cards import REVIEW_LATE_AFTER, SEND_LATE_AFTER
from .models import Letter, LetterStatus
from .roles import REVIEWERS, SENDERS

PAGE_SIZE = 50


def _page(request: OrganizationRequest, rows) -> tuple:
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


@records_access()
@staff_view(roles=ALL_ROLES)
def letter_list(request: OrganizationRequest) -> HttpResponse:
    """Every letter sent or on its way, newest first: what each physician heard, and when."""
    form = LetterFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    physician = None
    if filters.get("physician"):
        physician = (
            Physician.objects.for_organization(request.organization).filter(pk=filters["physician"]).first()
        )
        if physician is None:
            filters = {**filters, "physician": None}
    page, query = _page(request, selectors.letter_history(organization=request.organization, filters=filters))
    return render(
        request,
        "letters/letter_list.html",
        {"form": form, "page": page, "query": query, "physician": physician},
    )


@records_access()
@staff_view(roles=REVIEWERS)
def review_queue(request: OrganizationRequest) -> HttpResponse:
    """Letters waiting for review, longest first; a therapist sees their own unless asking for all."""
    everyone = request.membership.role == Role.ADMIN or request.GET.get("everyone") == "1"
    now = timezone.now()
    late = request.GET.get("late") == "1"
    letters = selectors.letters_awaiting_review(
        organization=request.organization,
        therapist_id=None if everyone else request.user.pk,
        late_before=now - REVIEW_LATE_AFTER if late else None,
    )
    page, query = _page(request, letters)
    rules = selectors.letter_settings_get(organization=request.organization)
    return render(
        request,
        "letters/review_queue.html",
        {
            "page": page,
            "query": query,
            "everyone": everyone,
            "late": late,
            "rules": rules,
            "now": now,
            "late_before": now - REVIEW_LATE_AFTER,
        },
    )


@records_access()
@staff_view(roles=SENDERS)
def send_queue(request: OrganizationRequest) -> HttpResponse:
    """Letters to print and fax, post, message or phone through, and emails that could not be delivered."""
    page, query = _page(request, selectors.letters_to_send(organization=request.organization))
    now = timezone.now()
    return render(
        request,
        "letters/send_queue.html",
        {"page": page, "query": query, "now": now, "late_before": now - SEND_LATE_AFTER},
    )


@records_access()
@staff_view(roles=ALL_ROLES)
def loop_list(request: OrganizationRequest) -> HttpResponse:
    """Evaluated or discharged patients whose physician has heard nothing for the organization's N days."""
    rules = selectors.letter_settings_get(organization=request.organization)
    now = timezone.now()
    page, query = _page(
        request, selectors.loop_not_closed(organization=request.organization, rules=rules, now=now)
    )
    return render(
        request, "letters/loop_list.html", {"page": page, "query": query, "rules": rules, "now": now}
    )


def _letter(request: OrganizationRequest, letter_id: int) -> Letter:
    letter = selectors.letter_detail(organization=request.organization, letter_id=letter_id)
    if letter is None:
        # Another organization's letter is no more found than one that does not exist.
        raise Http404("No such letter.")
    letter.organization = request.organization
    return letter


@records_access(object_kwarg="letter_id", object_type="letter")
@staff_view(roles=ALL_ROLES)
def letter_detail(request: OrganizationRequest, letter_id: int) -> HttpResponse:
    letter = _letter(request, letter_id)
    role = request.membership.role
    may_send = role in SENDERS and (
        letter.status == LetterStatus.TO_SEND
        or (letter.status == LetterStatus.EMAILED and _email_undelivered(letter))
    )
    return render(
        request,
        "letters/letter_detail.html",
        {
            "letter": letter,
            "document": _document(request, letter),
            "openings": selectors.letter_openings(organization=request.organization, letter=letter),
            "may_review": letter.is_waiting and services.may_review(request.membership, letter),
            "may_send": may_send,
            "may_print": role in SENDERS and letter.may_be_printed,
        },
    )


def _email_undelivered(letter: Letter) -> bool:
    return letter.email is None or letter.email.status in ("failed", "suppressed")


def _document(request: HttpRequest, letter: Letter) -> dict:
    """What `letters/_letter.html` needs: the letter, its recipient's practice, its organization."""
    return {
        "letter": letter,
        "organization": letter.organization,
        "recipient": selectors.letter_recipient_practice(organization=letter.organization, letter=letter),
    }


@records_access(object_kwarg="letter_id", object_type="letter")
@staff_view(roles=REVIEWERS)
def letter_edit(request: OrganizationRequest, letter_id: int) -> HttpResponse:
    """The reviewer's page: the free-text parts to word, then Save, or Save and approve."""
    letter = _letter(request, letter_id)
    if not (letter.is_waiting and services.may_review(request.membership, letter)):
        messages.error(
            request, "Only the treating therapist or an admin may edit a letter that has not left."
        )
        return redirect("letters:detail", letter_id=letter.pk)
    initial = {
        "findings": letter.findings,
        "plan": letter.plan,
        "note": letter.note,
        "version": letter.version,
    }
    form = LetterTextForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.letter_update(
                acting=request.membership,
                letter=letter,
                version=form.cleaned_data["version"],
                text=services.LetterText.from_cleaned_data(form.cleaned_data),
            )
            if "approve" in request.POST and saved.status == LetterStatus.REVIEW:
                saved = services.letter_approve(acting=request.membership, letter=saved)
        except (ValidationError, PermissionDenied) as error:
            form.add_error(None, error.messages if isinstance(error, ValidationError) else str(error))
        else:
            messages.success(
                request, _sent_message(saved) if saved.status != LetterStatus.REVIEW else "Saved."
            )
            return redirect("letters:detail", letter_id=saved.pk)
    return render(
        request,
        "letters/letter_edit.html",
        {"letter": letter, "form": form, "document": _document(request, letter)},
    )


def _sent_message(letter: Letter) -> str:
    if letter.status == LetterStatus.EMAILED:
        return "Approved: the email with its secure link leaves within a minute."
    if letter.status == LetterStatus.TO_SEND:
        return "Approved: it waits in To send for someone to print and send it."
    return "Saved."


def _act(request: OrganizationRequest, letter_id: int, action, success) -> HttpResponse:
    letter = _letter(request, letter_id)
    try:
        done = action(acting=request.membership, letter=letter)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    except PermissionDenied as error:
        messages.error(request, str(error))
    else:
        messages.success(request, success(done))
    return redirect("letters:detail", letter_id=letter.pk)


@require_POST
@records_access(object_kwarg="letter_id", object_type="letter")
@staff_view(roles=REVIEWERS)
def letter_approve(request: OrganizationRequest, letter_id: int) -> HttpResponse:
    return _act(request, letter_id, services.letter_approve, _sent_message)


@require_POST
@records_access(object_kwarg="letter_id", object_type="letter")
@staff_view(roles=REVIEWERS)
def letter_withdraw(request: OrganizationRequest, letter_id: int) -> HttpResponse:
    return _act(request, letter_id, services.letter_withdraw, lambda letter: "The letter will not be sent.")


@require_POST
@records_access(object_kwarg="letter_id", object_type="letter")
@staff_view(roles=SENDERS)
def letter_mark_sent(request: OrganizationRequest, letter_id: int) -> HttpResponse:
    return _act(request, letter_id, services.letter_mark_sent, lambda letter: "Marked sent.")


@records_access(kind=AccessKind.PRINT, object_kwarg="letter_id", object_type="letter")
@staff_view(roles=SENDERS)
def letter_print(request: OrganizationRequest, letter_id: int) -> HttpResponse:
    """The letter alone on a US Letter page, with the clinic's letterhead: print it, or print to fax.

    Only a letter that may go out: one awaiting review, or withdrawn, is sent back to its page.
    """
    letter = _letter(request, letter_id)
    if not letter.may_be_printed:
        messages.error(
            request,
            "This letter is awaiting review: it can be printed once it is approved."
            if letter.status == LetterStatus.REVIEW
            else "This letter was withdrawn and is not to be sent.",
        )
        return redirect("letters:detail", letter_id=letter.pk)
    return render(request, "letters/letter_print.html", {**_document(request, letter), "staff": True})


@never_cache
@require_GET
@records_access()
def letter_read(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link: the letter, without signing in, until the link expires; each opening is recorded."""
    answer = services.letter_link_open(
        token=token,
        ip_address=get_client_ip_address(request),
        user_agent=request.headers.get("User-Agent", ""),
    )
    if answer.letter is None:
        response = render(
            request,
            "letters/link_problem.html",
            {"expired": answer.problem == "expired"},
            status=410 if answer.problem == "expired" else 404,
        )
    else:
        # The letter's patient comes from its stored content, not the referral's row.
        letter = answer.letter
        note_shown(
            organization_id=letter.organization_id,
            referral_ids=[letter.referral_id] if letter.referral_id else [],
        )
        response = render(request, "letters/letter_print.html", _document(request, answer.letter))
    # The letter names a patient: no search engine, no referrer and (never_cache) no cache keeps it.
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response
