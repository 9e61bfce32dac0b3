"""Service announcements in the organization data export (clinics/exports/registry.py)."""

from clinics.exports.registry import register

from .models import AnnouncementTouch, ServiceAnnouncement

register(
    ServiceAnnouncement,
    name="service_announcements",
    description="Announcements of services sent to physicians.",
)
register(
    ServiceAnnouncement.populations.through,
    name="service_announcement_populations",
    description="Which patient populations each announcement was aimed at.",
    exclude_fields=("id", "population"),
    extra_columns=("population__code",),
    queryset=lambda organization: ServiceAnnouncement.populations.through.objects.filter(
        serviceannouncement__organization=organization
    ),
)
register(
    AnnouncementTouch,
    name="announcement_touches",
    description="The touch each announcement recorded per physician.",
)
