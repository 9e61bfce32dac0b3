"""Referrals in the access audit trail (audit sits below referrals and plugs nothing in here).

1. Every referral loaded while a recorded view runs is noted as shown
   (`audit.recording`): the `post_init` of a row read from the database.
2. The audit pages name referrals by number ("#12"), never by patient.
3. An admin sees on a referral's page who has seen it (a referral panel).
"""

from collections.abc import Iterable
from typing import Any

from django.db.models.signals import post_init
from django.dispatch import receiver

from audit.naming import register_referral_naming
from audit.recording import note_referral_loaded
from audit.selectors import referral_seen_by
from clinics.models import Organization
from clinics.roles import ADMINS
from clinics.tenancy import OrganizationRequest
from physicians.panels import Panel

from .models import Referral
from .panels import register_referral_panel

SEEN_BY_SHOWN = 8


@receiver(post_init, sender=Referral, dispatch_uid="referrals.note_shown")
def note_shown(sender: type[Referral], instance: Referral, **kwargs: Any) -> None:
    # A referral being typed (intake, a form's instance) has no id yet: only stored ones are shown.
    # Read from __dict__: a row loaded with only() may have deferred its organization, and reading
    # the attribute would fetch it, one query per row (None then: the request's organization).
    if instance.pk is not None:
        note_referral_loaded(
            organization_id=instance.__dict__.get("organization_id"), referral_id=instance.pk
        )


class ReferralNumbers:
    def find(self, *, organization: Organization, text: str) -> int | None:
        number = text.strip().lstrip("#").strip()
        if not number.isdigit():
            return None
        return (
            Referral.objects.filter(organization=organization, number=int(number))
            .values_list("pk", flat=True)
            .first()
        )

    def labels(self, *, organization: Organization, referral_ids: Iterable[int]) -> dict[int, str]:
        return {
            pk: f"#{number}"
            for pk, number in Referral.objects.filter(
                organization=organization, pk__in=list(referral_ids)
            ).values_list("pk", "number")
        }


register_referral_naming(ReferralNumbers())


@register_referral_panel
def seen_by(request: OrganizationRequest, referral: Referral) -> Panel | None:
    if request.membership.role not in ADMINS:
        return None
    events = referral_seen_by(organization=request.organization, referral_id=referral.pk, limit=SEEN_BY_SHOWN)
    return Panel(
        "audit/_seen_by.html", {"seen_by": events, "referral_number": referral.number}, placement="side"
    )
