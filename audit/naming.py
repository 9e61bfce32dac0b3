"""How the audit pages name referrals without importing referrals, which sits above them.

Referrals registers a `ReferralNaming` when it loads: it turns what an admin
types ("12", "#12") into a referral's id, and ids into the numbers people
know ("#12"). The audit pages show numbers, never patients' names.
"""

from collections.abc import Iterable
from typing import Protocol

from clinics.models import Organization


class ReferralNaming(Protocol):
    def find(self, *, organization: Organization, text: str) -> int | None: ...

    def labels(self, *, organization: Organization, referral_ids: Iterable[int]) -> dict[int, str]: ...


_naming: list[ReferralNaming] = []


def register_referral_naming(naming: ReferralNaming) -> ReferralNaming:
    _naming[:] = [naming]
    return naming


def referral_find(*, organization: Organization, text: str) -> int | None:
    return _naming[0].find(organization=organization, text=text) if _naming else None


def referral_labels(*, organization: Organization, referral_ids: Iterable[int]) -> dict[int, str]:
    """{id: "#12"}; without a registered naming, the id itself."""
    ids = list(referral_ids)
    if not _naming:
        return {referral_id: f"id {referral_id}" for referral_id in ids}
    return _naming[0].labels(organization=organization, referral_ids=ids)
