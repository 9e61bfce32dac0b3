"""What higher apps register to erase their own copies of a patient's details (see the package's docstring).

An app that stores a patient's identifiers outside the referral (a letter's
text, an email to the patient) registers, from its AppConfig.ready, a
function erasing them for the given referrals. It runs inside the removal's
transaction: if it fails, nothing of the batch is removed.
"""

from collections.abc import Callable, Sequence

from clinics.models import Organization

# eraser(organization=…, referral_ids=…): erases the app's copies for those referrals.
PatientDetailsEraser = Callable[..., None]

_erasers: dict[str, PatientDetailsEraser] = {}


def register_patient_details_eraser(name: str, eraser: PatientDetailsEraser) -> None:
    """Adds `eraser` under `name` (the app's label); registering the same name again replaces it."""
    _erasers[name] = eraser


def erase_copies(*, organization: Organization, referral_ids: Sequence[int]) -> None:
    for name in sorted(_erasers):
        _erasers[name](organization=organization, referral_ids=referral_ids)
