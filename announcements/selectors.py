import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Lower

from clinics.models import Organization, Population, ServiceOffering
from outbox.selectors import EmailDelivery, email_delivery_by_key, email_suppressed_addresses
from outreach.models import Touch
from physicians.models import Affiliation, Physician
from physicians.taxonomy import taxonomy_label

from .models import AnnouncementTouch, ServiceAnnouncement

PREVIEW_NAMES = 20
# Within a week a second email about the same service to the same physician is
# almost always a resubmitted form, not a reminder; a reminder after that is
# the sender's call.
REPEAT_WINDOW = datetime.timedelta(days=7)


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
        AnnouncementTouch.objects.for_organization(organization)
        .filter(
            announcement__offering=offering,
            announcement__created_at__gte=now - REPEAT_WINDOW,
            touch__physician__in=announcement_audience(
                organization=organization, taxonomy_codes=taxonomy_codes, population_ids=population_ids
            ).values("pk"),
        )
        .select_related("touch__physician", "announcement__created_by")
        .order_by(
            "-announcement__created_at",
            "-announcement_id",
            "touch__physician__last_name",
            "touch__physician__first_name",
        )
    )
    grouped: dict[int, tuple[ServiceAnnouncement, list[Physician]]] = {}
    for link in reached:
        # touch_log_broadcast logs each announcement touch with its physician.
        assert link.touch.physician is not None
        grouped.setdefault(link.announcement_id, (link.announcement, []))[1].append(link.touch.physician)
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
    # None if the outbox has no email under the announcement's key for them.
    delivery: EmailDelivery | None


def announcement_recipients(
    *, organization: Organization, announcement: ServiceAnnouncement
) -> list[AnnouncementRecipient]:
    """Each physician the announcement went to, with where their email stands: two queries."""
    links = list(
        AnnouncementTouch.objects.for_organization(organization)
        .filter(announcement=announcement)
        .select_related("touch__physician")
        .order_by("touch__physician__last_name", "touch__physician__first_name", "touch_id")
    )
    keys = {
        link.touch_id: announcement.email_key(physician_id=link.touch.physician_id)
        for link in links
        if link.touch.physician_id is not None  # touch_log_broadcast sets it on every one
    }
    deliveries = email_delivery_by_key(organization=organization, keys=keys.values())
    return [
        AnnouncementRecipient(touch=link.touch, delivery=deliveries.get(keys[link.touch_id]))
        for link in links
        if link.touch_id in keys
    ]


def announcement_defaults(*, offering: ServiceOffering) -> dict[str, object]:
    """The form's starting point: a subject and message from the offering, its populations as audience."""
    subject = f"New at {offering.clinic.name}: {offering.name}"
    max_length = ServiceAnnouncement._meta.get_field("subject").max_length or len(subject)
    return {
        "subject": subject if len(subject) <= max_length else subject[: max_length - 1] + "…",
        "message": offering.description or f"{offering.clinic.name} now offers {offering.name}.",
        "populations": list(offering.populations.all()),
    }


def announcement_audience_labels(announcement: ServiceAnnouncement) -> list[str]:
    """“Orthopaedic Surgery”, “Sports patients”, …: who an announcement was for, in words."""
    specialties = [taxonomy_label(code) for code in announcement.taxonomy_codes]
    populations: list[Population] = list(announcement.populations.all())
    return specialties + [f"{population.name} patients" for population in populations]
