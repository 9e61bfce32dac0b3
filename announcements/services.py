"""Service announcements: telling the sources a new or changed service matters to, by email.

The audience is every active physician of the organization with an email
address who has not unsubscribed, and whose specialty is among the chosen
ones OR whose primary practice treats one of the chosen populations. With no
specialty and no population chosen nobody is addressed: an announcement must
say who it is for.

Each recipient's copy is recorded in their outreach history as a touch of
kind "service announcement" (outreach.services.touch_log_broadcast), which
never counts as contact; AnnouncementTouch links it to its announcement, so
outreach itself never names announcements.

Exactly once:

1. The form carries a one-time `request_key`; `ServiceAnnouncement.request_key`
   is unique, so a second submit of the same form (a double click, a resend
   after a timeout) finds the first announcement instead of sending again.
2. Each email is enqueued in the outbox with the key
   `ServiceAnnouncement.email_key` (`announcement:<announcement>:physician:<physician>`)
   in the same transaction that creates the announcement and its touches:
   all of it is recorded, or none. The outbox sends each key once, also
   across a worker killed mid-send.
3. A new form (the browser's Back button shows one with a new key) for an
   offering already announced within REPEAT_WINDOW to some of the same
   physicians is refused with AnnouncementRepeat, which says who received
   it, when and from whom. Only a send that confirms those announcements
   goes out again; the offering's row is locked while this is checked, so
   two admins sending at once cannot both miss each other's announcement.
4. Announcing the same offering again after the window is a new
   announcement with new keys: a deliberate second email, not a duplicate.
"""

import uuid
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from clinics.models import Organization, ServiceOffering
from clinics.phones import phone_display
from outbox.services import EmailToQueue, email_enqueue_many
from outreach.models import TouchKind
from outreach.services import touch_log_broadcast
from physicians.models import Physician

from .models import AnnouncementTouch, ServiceAnnouncement
from .selectors import REPEAT_WINDOW, EarlierAnnouncement, announcement_audience, announcement_recent_repeats

EMAIL_KIND = "service_announcement"
EMAIL_TEMPLATE = "announcements/email/service_announcement"
NO_AUDIENCE = "Choose at least one specialty or patient population: an announcement must say who it is for."


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
        "clinic_phone": phone_display(clinic.phone),
        "organization_name": organization.name,
        "sender_name": user.get_full_name() or user.username,
    }
    email_enqueue_many(
        organization=organization,
        kind=EMAIL_KIND,
        template=EMAIL_TEMPLATE,
        messages=(
            EmailToQueue(
                idempotency_key=announcement.email_key(physician_id=physician.pk),
                to=physician.email,
                context={**context, "physician_name": _greeting_name(physician)},
            )
            for physician in recipients
        ),
        unsubscribe=True,
        reply_to=user.email,
    )
    touches = touch_log_broadcast(
        organization=organization,
        user=user,
        kind=TouchKind.SERVICE_ANNOUNCEMENT,
        occurred_at=timezone.now(),
        physicians=recipients,
        notes=announcement.subject,
    )
    AnnouncementTouch.objects.bulk_create(
        AnnouncementTouch(organization=organization, announcement=announcement, touch=touch)
        for touch in touches
    )
    return announcement
