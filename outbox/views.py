from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from audit.recording import records_access, shows_no_patient_data
from clinics.roles import ADMINS
from clinics.tenancy import OrganizationRequest, get_for_organization_or_404, staff_view

from . import selectors, services
from .forms import EmailLogFilterForm
from .models import EmailStatus, OutboundEmail

PAGE_SIZE = 50


@records_access()
@staff_view(roles=ADMINS)
def email_log(request: OrganizationRequest) -> HttpResponse:
    organization = request.organization
    form = EmailLogFilterForm(request.GET or None, kinds=selectors.email_kinds(organization=organization))
    filters = form.cleaned_data if form.is_valid() else {}
    emails = selectors.email_log(
        organization=organization, status=filters.get("status"), kind=filters.get("kind")
    )
    page = Paginator(emails, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "outbox/email_log.html", {"form": form, "page": page, "query": query.urlencode()})


@records_access(object_kwarg="email_id", object_type="email")
@staff_view(roles=ADMINS)
def email_detail(request: OrganizationRequest, email_id: int) -> HttpResponse:
    email = get_for_organization_or_404(OutboundEmail, request.organization, pk=email_id)
    headers = [("To", email.to_address), ("Subject", email.subject), ("Message-ID", email.message_id)]
    headers += sorted(email.headers.items())
    return render(
        request,
        "outbox/email_detail.html",
        {"email": email, "headers": headers, "can_retry": email.status == EmailStatus.FAILED},
    )


@require_POST
@records_access(object_kwarg="email_id", object_type="email")
@staff_view(roles=ADMINS)
def email_retry(request: OrganizationRequest, email_id: int) -> HttpResponse:
    email = get_for_organization_or_404(OutboundEmail, request.organization, pk=email_id)
    try:
        email = services.email_retry(email=email)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        if email.status == EmailStatus.SUPPRESSED:
            messages.warning(
                request, "Not sent: this address has unsubscribed from your organization's email."
            )
        else:
            messages.success(request, "Queued again: it leaves within a minute.")
    return redirect("outbox:detail", email_id=email.pk)


# CSRF-exempt because RFC 8058's one-click unsubscribe is a POST that mail
# providers send from their own servers, with no cookie or CSRF token. The
# random token in the URL is the only credential, and the worst a forged
# cross-site POST could do is what the token's holder may do anyway: stop
# that one address's email from one organization.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
@shows_no_patient_data("a physician's unsubscribe confirmation")
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET only asks (mail scanners follow links); POST, from the page or a one-click client, unsubscribes."""
    email = selectors.email_for_unsubscribe_token(token=token)
    if email is None:
        raise Http404("No such unsubscribe link.")
    done = False
    if request.method == "POST":
        done = services.email_unsubscribe(token=token) is not None
    return render(
        request,
        "outbox/unsubscribe.html",
        {"organization": email.organization, "address": _masked(email.to_address), "done": done},
    )


def _masked(address: str) -> str:
    """Enough of the address to recognise it (“j…@example.org”), in case the link was forwarded."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}…@{domain}"
