"""Service announcements: telling the sources a new or changed service matters to, by email.

The audience is every active physician of the organization with an email
address who has not unsubscribed, and whose specialty is among the chosen
ones OR whose primary practice treats one of the chosen populations. With no
specialty and no population chosen nobody is addressed: an announcement must
say who it is for.

Exactly once:

1. The form carries a one-time `request_key`; `ServiceAnnouncement.request_key`
   is unique, so a second submit of the same form (a double click, a resend
   after a timeout) finds the first announcement instead of sending again.
2. Each email is enqueued in the outbox with the key
   `announcement:<announcement>:physician:<physician>` in the same transaction
   that creates the announcement and its touches: all of it is recorded, or
   none. The outbox sends each key once, also across a worker killed mid-send.
3. A new form (the browser's Back button shows one with a new key) for an
   offering already announced within REPEAT_WINDOW to some of the same
   physicians is refused with AnnouncementRepeat, which says who received
   it, when and from whom. Only a send that confirms those announcements
   goes out again; the offering's row is locked while this is checked, so
   two admins sending at once cannot both miss each other's announcement.
4. Announcing the same offering again after the window is a new
   announcement with new keys: a deliberate second email, not a duplicate.
"""

import datetime
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import User
from clinics.models import Organization, Population, ServiceOffering
from outbox.models import OutboundEmail
from outbox.selectors import email_suppressed_addresses
from outbox.services import EmailToQueue, email_enqueue_many
from physicians.models import Affiliation, Physician
from physicians.taxonomy import taxonomy_label

from .models import ServiceAnnouncement, Touch, TouchKind

EMAIL_KIND = "service_announcement"
EMAIL_TEMPLATE = "outreach/email/service_announcement"
PREVIEW_NAMES = 20
NO_AUDIENCE = "Choose at least one specialty or patient population: an announcement must say who it is for."
# Within a week a second email about the same service to the same physician is
# almost always a resubmitted form, not a reminder; a reminder after that is
# the sender's call.
REPEAT_WINDOW = datetime.timedelta(days=7)


def announcement_idempotency_key(*, announcement_id: int, physician_id: int) -> str:
    return f"announcement:{announcement_id}:physician:{physician_id}"


def _matching_physicians(
    *, organization: Organization, taxonomy_codes: Iterable[str], population_ids: Iterable[int]
) -> QuerySet[Physician]:
    """Active physicians whose specialty or primary practice's populations match, reachable or not."""
    taxonomy_codes = [code for code in taxonomy_codes if code]
    population_ids = list(population_ids)
    physicians = (
        Physician.objects.for_organization(organization)
        .filter(is_active=True)
        .annotate(email_lower=Lower("email"))
    )
    if not taxonomy_codes and not population_ids:
        return physicians.none()
    matches = Q()
    if taxonomy_codes:
        matches |= Q(taxonomy_code__in=taxonomy_codes)
    if population_ids:
        # EXISTS rather than a join: a practice treating two of the chosen
        # populations must not list its physicians twice.
        matches |= Q(
            Exists(
                Affiliation.objects.filter(
                    organization=organization,
                    physician=OuterRef("pk"),
                    is_primary=True,
                    practice__populations__in=population_ids,
                )
            )
        )
    return physicians.filter(matches)


def announcement_audience(
    *, organization: Organization, taxonomy_codes: Iterable[str], population_ids: Iterable[int]
) -> QuerySet[Physician]:
    """The physicians an announcement to these specialties and populations reaches: one query."""
    return (
        _matching_physicians(
            organization=organization, taxonomy_codes=taxonomy_codes, population_ids=population_ids
        )
        .exclude(email="")
        .exclude(email_lower__in=email_suppressed_addresses(organization=organization))  # type: ignore[misc]
        .order_by("last_name", "first_name", "pk")
    )


@dataclass(frozen=True)
class AudiencePreview:
    recipient_count: int
    without_email_count: int
    unsubscribed_count: int
    first_recipients: list[Physician]

    @property
    def more_count(self) -> int:
        return self.recipient_count - len(self.first_recipients)


def announcement_audience_preview(
    *, organization: Organization, taxonomy_codes: Iterable[str], population_ids: Iterable[int]
) -> AudiencePreview:
    """How many physicians would receive it, the first few names, and who matches but cannot: two queries."""
    taxonomy_codes, population_ids = list(taxonomy_codes), list(population_ids)
    suppressed = email_suppressed_addresses(organization=organization)
    counts = _matching_physicians(
        organization=organization, taxonomy_codes=taxonomy_codes, population_ids=population_ids
    ).aggregate(
        without_email=Count("pk", filter=Q(email="")),
        unsubscribed=Count("pk", filter=~Q(email="") & Q(email_lower__in=suppressed)),
        reachable=Count("pk", filter=~Q(email="") & ~Q(email_lower__in=suppressed)),
    )
    first = (
        list(
            announcement_audience(
                organization=organization, taxonomy_codes=taxonomy_codes, population_ids=population_ids
            )[:PREVIEW_NAMES]
        )
        if counts["reachable"]
        else []
    )
    return AudiencePreview(
        recipient_count=counts["reachable"],
        without_email_count=counts["without_email"],
        unsubscribed_count=counts["unsubscribed"],
        first_recipients=first,
    )


def announcement_specialty_choices(*, organization: Organization) -> list[tuple[str, str]]:
    """The specialties of the organization's active physicians, labelled and counted, by label."""
    rows = (
        Physician.objects.for_organization(organization)
        .filter(is_active=True)
        .exclude(taxonomy_code="")
        .values("taxonomy_code")
        .annotate(physicians=Count("pk"))
        .order_by()
    )
    choices = [
        (row["taxonomy_code"], f"{taxonomy_label(row['taxonomy_code'])} ({row['physicians']})")
        for row in rows
    ]
    return sorted(choices, key=lambda choice: choice[1])


def announcement_list(*, organization: Organization) -> QuerySet[ServiceAnnouncement]:
    return (
        ServiceAnnouncement.objects.for_organization(organization)
        .select_related("offering__clinic", "created_by")
        .prefetch_related("populations")
        .order_by("-created_at", "-pk")
    )


@dataclass(frozen=True)
class EarlierAnnouncement:
    """An announcement of the same offering, sent within REPEAT_WINDOW, to some of today's audience."""

    announcement: ServiceAnnouncement
    recipient_count: int
    first_recipients: list[Physician]

    @property
    def more_count(self) -> int:
        return self.recipient_count - len(self.first_recipients)


class AnnouncementRepeat(ValidationError):
    """Some of the audience already received this offering's announcement lately; `earlier` says which."""

    def __init__(self, earlier: list[EarlierAnnouncement]):
        self.earlier = earlier
        super().__init__(
            f"This service was announced to some of these physicians in the last {REPEAT_WINDOW.days} days; "
            "nothing was sent. Send again only if you mean them to have a second email."
        )

    @property
    def announcement_ids(self) -> list[int]:
        return [item.announcement.pk for item in self.earlier]


def announcement_recent_repeats(
    *,
    organization: Organization,
    offering: ServiceOffering,
    taxonomy_codes: Iterable[str],
    population_ids: Iterable[int],
    now: datetime.datetime,
) -> list[EarlierAnnouncement]:
    """This offering's announcements of the last REPEAT_WINDOW that reached physicians of this audience.

    Newest first, each with how many of the audience it reached and the first
    PREVIEW_NAMES of them; one query, through the touches that record whom
    each announcement went to.
    """
    reached = (
        Touch.objects.for_organization(organization)
        .filter(
            announcement__offering=offering,
            announcement__created_at__gte=now - REPEAT_WINDOW,
            physician__in=announcement_audience(
                organization=organization, taxonomy_codes=taxonomy_codes, population_ids=population_ids
            ).values("pk"),
        )
        .select_related("physician", "announcement__created_by")
        .order_by(
            "-announcement__created_at", "-announcement_id", "physician__last_name", "physician__first_name"
        )
    )
    grouped: dict[int, tuple[ServiceAnnouncement, list[Physician]]] = {}
    for touch in reached:
        # Filtered on the announcement and its physicians: both are set.
        assert touch.announcement is not None
        assert touch.physician is not None
        grouped.setdefault(touch.announcement.pk, (touch.announcement, []))[1].append(touch.physician)
    return [
        EarlierAnnouncement(
            announcement=announcement,
            recipient_count=len(physicians),
            first_recipients=physicians[:PREVIEW_NAMES],
        )
        for announcement, physicians in grouped.values()
    ]


@dataclass(frozen=True)
class AnnouncementRecipient:
    touch: Touch
    email: OutboundEmail | None


def announcement_recipients(
    *, organization: Organization, announcement: ServiceAnnouncement
) -> list[AnnouncementRecipient]:
    """Each physician the announcement went to, with the outbox row that carries their email: two queries."""
    touches = list(
        Touch.objects.for_organization(organization)
        .filter(announcement=announcement)
        .select_related("physician")
        .order_by("physician__last_name", "physician__first_name", "pk")
    )
    keys = {
        touch.pk: announcement_idempotency_key(
            announcement_id=announcement.pk, physician_id=touch.physician_id
        )
        for touch in touches
        if touch.physician_id is not None  # an announcement's touches are each with a physician
    }
    emails = {
        email.idempotency_key: email
        for email in OutboundEmail.objects.filter(
            organization=organization, idempotency_key__in=keys.values()
        ).only("idempotency_key", "to_address", "status", "attempts", "sent_at", "last_error")
    }
    return [AnnouncementRecipient(touch=touch, email=emails.get(keys[touch.pk])) for touch in touches]


def announcement_defaults(*, offering: ServiceOffering) -> dict:
    """The form's starting point: a subject and message from the offering, its populations as audience."""
    subject = f"New at {offering.clinic.name}: {offering.name}"
    max_length = ServiceAnnouncement._meta.get_field("subject").max_length or len(subject)
    return {
        "subject": subject if len(subject) <= max_length else subject[: max_length - 1] + "…",
        "message": offering.description or f"{offering.clinic.name} now offers {offering.name}.",
        "populations": list(offering.populations.all()),
    }


# Credentials whose holders are addressed as “Dr.” when no prefix is recorded.
DOCTOR_CREDENTIALS = {"MD", "DO", "DPM", "DC"}


def _greeting_name(physician: Physician) -> str:
    """“Dr. Okafor” for a physician, “Jane Smith, NP” for whom the title would be wrong."""
    if physician.prefix:
        return f"{physician.prefix} {physician.last_name}"
    if physician.credential.replace(".", "").upper() in DOCTOR_CREDENTIALS:
        return f"Dr. {physician.last_name}"
    return physician.display_name


@transaction.atomic
def announcement_send(
    *,
    organization: Organization,
    user: User,
    offering: ServiceOffering,
    subject: str,
    message: str,
    taxonomy_codes: Iterable[str],
    population_ids: Iterable[int],
    request_key: uuid.UUID,
    repeat_confirmed_for: Iterable[int] = (),
) -> ServiceAnnouncement:
    """Records the announcement, enqueues one email and logs one touch per recipient, all in one transaction.

    A `request_key` already used by this organization returns that
    announcement untouched. If the offering went to some of the same
    physicians within REPEAT_WINDOW, AnnouncementRepeat is raised unless
    `repeat_confirmed_for` holds every such announcement's id: the sender saw
    them and chose to send again (see the module doc). Queries are constant
    in the number of recipients, apart from one more INSERT per few hundred
    emails or touches. Replies go to the sending admin's address, when they
    have one.
    """
    existing = ServiceAnnouncement.objects.filter(request_key=request_key).first()
    if existing is not None:
        if existing.organization_id != organization.pk:
            raise ValidationError("This form has expired. Reload the page and send again.")
        return existing
    if offering.organization_id != organization.pk:
        raise ValidationError("That service belongs to another organization.")
    # Two admins announcing it at once: the second waits here, then sees the first.
    ServiceOffering.objects.select_for_update(no_key=True).filter(pk=offering.pk).exists()
    if not offering.is_active:
        raise ValidationError(f"{offering.name} is no longer offered; there is nothing to announce.")
    taxonomy_codes = sorted({code for code in taxonomy_codes if code})
    population_ids = sorted(set(population_ids))
    if not taxonomy_codes and not population_ids:
        raise ValidationError(NO_AUDIENCE)
    recipients = list(
        announcement_audience(
            organization=organization, taxonomy_codes=taxonomy_codes, population_ids=population_ids
        )
    )
    if not recipients:
        raise ValidationError(
            "No active physician with an email address matches this audience; nothing was sent."
        )
    earlier = announcement_recent_repeats(
        organization=organization,
        offering=offering,
        taxonomy_codes=taxonomy_codes,
        population_ids=population_ids,
        now=timezone.now(),
    )
    if {item.announcement.pk for item in earlier} - set(repeat_confirmed_for):
        raise AnnouncementRepeat(earlier)

    announcement = ServiceAnnouncement(
        organization=organization,
        offering=offering,
        subject=subject.strip(),
        message=message.strip(),
        taxonomy_codes=taxonomy_codes,
        request_key=request_key,
        recipient_count=len(recipients),
        created_by=user,
    )
    announcement.full_clean(exclude=["request_key"])
    try:
        with transaction.atomic():
            announcement.save()
    except IntegrityError:
        # The same form submitted twice at once: the other request inserted
        # first (the unique index made this one wait), so its announcement is
        # the one this submit meant.
        return ServiceAnnouncement.objects.get(organization=organization, request_key=request_key)
    ServiceAnnouncement.populations.through.objects.bulk_create(
        ServiceAnnouncement.populations.through(serviceannouncement=announcement, population_id=population_id)
        for population_id in population_ids
    )

    clinic = offering.clinic
    # Plain values only: the outbox may keep the context, and an announcement
    # is about a service, never about a patient.
    context = {
        "subject": announcement.subject,
        "message": announcement.message,
        "offering_name": offering.name,
        "clinic_name": clinic.name,
        "clinic_address": clinic.address,
        "clinic_phone": clinic.phone,
        "organization_name": organization.name,
        "sender_name": user.get_full_name() or user.username,
    }
    email_enqueue_many(
        organization=organization,
        kind=EMAIL_KIND,
        template=EMAIL_TEMPLATE,
        messages=(
            EmailToQueue(
                idempotency_key=announcement_idempotency_key(
                    announcement_id=announcement.pk, physician_id=physician.pk
                ),
                to=physician.email,
                context={**context, "physician_name": _greeting_name(physician)},
            )
            for physician in recipients
        ),
        unsubscribe=True,
        reply_to=user.email,
    )
    now = timezone.now()
    Touch.objects.bulk_create(
        Touch(
            organization=organization,
            physician=physician,
            kind=TouchKind.SERVICE_ANNOUNCEMENT,
            occurred_at=now,
            made_by=user,
            logged_by=user,
            notes=announcement.subject,
            announcement=announcement,
        )
        for physician in recipients
    )
    return announcement


def announcement_audience_labels(announcement: ServiceAnnouncement) -> list[str]:
    """“Orthopaedic Surgery”, “Sports patients”, …: who an announcement was for, in words."""
    specialties = [taxonomy_label(code) for code in announcement.taxonomy_codes]
    populations: list[Population] = list(announcement.populations.all())
    return specialties + [f"{population.name} patients" for population in populations]
