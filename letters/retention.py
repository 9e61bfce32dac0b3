"""What letters keep of a patient once the retention period removed their details (see referrals/retention/).

A letter stays (its kind, physician, dates and delivery: the loop-closed
figures), and so do the patient's number, visits, outcomes and NPS in its
text; the name, initials and date of birth it was written with are replaced.
"""

from collections.abc import Sequence

from clinics.models import Organization
from referrals.models import PATIENT_DETAILS_REMOVED
from referrals.retention.erasers import register_patient_details_eraser

from .models import Letter, LetterReferral

REMOVED = {"name": PATIENT_DETAILS_REMOVED, "initials": "", "birth_date": ""}


def erase_patient_copies(*, organization: Organization, referral_ids: Sequence[int]) -> None:
    numbers = set(
        LetterReferral.objects.filter(organization=organization, referral_id__in=referral_ids).values_list(
            "referral__number", flat=True
        )
    )
    letters = Letter.objects.filter(
        organization=organization,
        pk__in=LetterReferral.objects.filter(organization=organization, referral_id__in=referral_ids).values(
            "letter_id"
        ),
    ).only("pk", "content")
    changed = []
    for letter in letters:
        patients = (
            [letter.content["patient"]] if "patient" in letter.content else letter.content.get("patients", [])
        )
        for patient in patients:
            if patient.get("number") in numbers:
                patient.update(REMOVED)
        changed.append(letter)
    Letter.objects.bulk_update(changed, ["content"], batch_size=500)


register_patient_details_eraser("letters", erase_patient_copies)
