import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render

from audit.recording import shows_no_patient_data
from clinics.models import ServiceOffering
from clinics.roles import ADMINS
from clinics.selectors import service_offering_list
from clinics.tenancy import OrganizationRequest, get_for_organization_or_404, staff_view
from outbox.selectors import email_delivery_counts

from . import selectors, services
from .forms import AnnouncementForm
from .models import ServiceAnnouncement

PAGE_SIZE = 25


@shows_no_patient_data("service announcements to physicians")
@staff_view(roles=ADMINS)
def announcement_list(request: OrganizationRequest) -> HttpResponse:
    page = Paginator(selectors.announcement_list(organization=request.organization), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = [(announcement, selectors.announcement_audience_labels(announcement)) for announcement in page]
    offerings = service_offering_list(organization=request.organization).filter(is_active=True)
    context = {"page": page, "announcements": rows, "offerings": offerings}
    return render(request, "announcements/announcement_list.html", context)


@shows_no_patient_data("service announcements to physicians")
@staff_view(roles=ADMINS)
def announcement_create(request: OrganizationRequest, offering_id: int) -> HttpResponse:
    """The announcement form: Preview re-counts the audience (in place with htmx), Send sends.

    Send after a recent announcement of the same offering to the same people
    shows who received it and when, and a "send again" button that confirms.
    """
    offering = get_for_organization_or_404(
        ServiceOffering.objects.select_related("clinic"), request.organization, pk=offering_id
    )
    if not offering.is_active:
        messages.info(
            request, f"{offering.name} is not offered at the moment, so there is nothing to announce."
        )
        return redirect("clinics:service_list")
    if request.method == "POST":
        form = AnnouncementForm(request.POST, organization=request.organization)
    else:
        form = AnnouncementForm(
            initial={**selectors.announcement_defaults(offering=offering), "request_key": uuid.uuid4()},
            organization=request.organization,
        )

    action = request.POST.get("action")
    repeat = None
    if request.method == "POST" and action in ("send", "send_again") and form.is_valid():
        data = form.cleaned_data
        try:
            announcement = services.announcement_send(
                organization=request.organization,
                user=request.user,
                offering=offering,
                subject=data["subject"],
                message=data["message"],
                taxonomy_codes=data["taxonomy_codes"],
                population_ids=[population.pk for population in data["populations"]],
                request_key=data["request_key"],
                repeat_confirmed_for=data["repeat_of"] if action == "send_again" else (),
            )
        except services.AnnouncementRepeat as refusal:
            repeat = refusal
        except ValidationError as error:
            # Its messages may name model fields the form does not have.
            form.add_error(None, error.messages)
        else:
            messages.success(
                request,
                f"Announcement sent to {announcement.recipient_count} "
                f"physician{'' if announcement.recipient_count == 1 else 's'}.",
            )
            return redirect("announcements:detail", announcement_id=announcement.pk)

    taxonomy_codes, population_ids = form.audience()
    preview = selectors.announcement_audience_preview(
        organization=request.organization, taxonomy_codes=taxonomy_codes, population_ids=population_ids
    )
    context = {
        "form": form,
        "offering": offering,
        "preview": preview,
        "has_audience": bool(taxonomy_codes or population_ids),
        "repeat": repeat,
    }
    if request.htmx:
        return render(request, "announcements/announcement_form.html#audience_preview", context)
    return render(request, "announcements/announcement_form.html", context)


@shows_no_patient_data("service announcements to physicians")
@staff_view(roles=ADMINS)
def announcement_detail(request: OrganizationRequest, announcement_id: int) -> HttpResponse:
    announcement = get_for_organization_or_404(
        ServiceAnnouncement.objects.select_related("offering__clinic", "created_by").prefetch_related(
            "populations"
        ),
        request.organization,
        pk=announcement_id,
    )
    recipients = selectors.announcement_recipients(
        organization=request.organization, announcement=announcement
    )
    context = {
        "announcement": announcement,
        "audience": selectors.announcement_audience_labels(announcement),
        "recipients": recipients,
        "delivery": email_delivery_counts(
            recipient.delivery for recipient in recipients if recipient.delivery
        ),
    }
    return render(request, "announcements/announcement_detail.html", context)
