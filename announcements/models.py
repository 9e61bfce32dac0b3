from django.conf import settings
from django.db import models

from clinics.models import Population, ServiceOffering, TenantModel
from outreach.models import Touch


class ServiceAnnouncement(TenantModel):
    """One email about a clinic's service offering, sent to the sources it matters to."""

    offering = models.ForeignKey(ServiceOffering, on_delete=models.CASCADE, related_name="+")
    subject = models.CharField(max_length=150)
    message = models.TextField(help_text="What the service is and who it helps. No patient details.")
    # The audience: physicians with one of these NUCC specialties or whose
    # practice treats one of these populations.
    taxonomy_codes = models.JSONField("specialties", default=list, blank=True)
    populations = models.ManyToManyField(Population, related_name="+", blank=True)
    # The form's one-time key: a second submit of the same form finds this
    # announcement instead of sending again.
    request_key = models.UUIDField(unique=True)
    recipient_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="announcements_org_created")]

    def __str__(self) -> str:
        return self.subject

    def email_key(self, *, physician_id: int) -> str:
        """The outbox idempotency key of this announcement's email to one physician: one email each, ever."""
        return f"announcement:{self.pk}:physician:{physician_id}"


class AnnouncementTouch(TenantModel):
    """The touch that records one physician's copy of an announcement in their outreach history.

    The link is kept here, not on Touch, so that outreach, which sits below
    announcements, never names it. Deleting an announcement keeps its touches:
    they record emails that were sent.
    """

    announcement = models.ForeignKey(ServiceAnnouncement, on_delete=models.CASCADE, related_name="+")
    touch = models.OneToOneField(Touch, on_delete=models.CASCADE, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["organization", "announcement"], name="announcements_touch_org")]
