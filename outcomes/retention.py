"""What outcomes keeps of a patient once retention removed their details (see referrals/retention/).

The scores and the NPS score stay: they are the figures. The patient's own
words (an NPS comment may name them) and the survey email to their address go.
"""

from collections.abc import Sequence

from clinics.models import Organization
from outbox.services import emails_erase
from referrals.retention.erasers import register_patient_details_eraser

from .models import NpsResponse


def erase_patient_copies(*, organization: Organization, referral_ids: Sequence[int]) -> None:
    NpsResponse.objects.filter(organization=organization, referral_id__in=referral_ids).update(comment="")
    emails_erase(
        organization=organization,
        idempotency_keys=[f"nps-survey:{organization.pk}:{referral_id}" for referral_id in referral_ids],
    )


register_patient_details_eraser("outcomes", erase_patient_copies)
