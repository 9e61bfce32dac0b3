"""Which referral an imported row belongs to: by the patient's account number, else name, birth date and date.

The matcher loads one organization's referrals once (a query), so it can
never match another organization's, and answers each row from memory.

1. A row with an account number known on one referral matches it, whatever
   its date: the number is the clinic's own for the patient. Known on
   several (the same patient referred again), the one whose episode holds
   the row's date.
2. Otherwise the patient's last name, first name (its first word) and date of
   birth, compared without case, accents or punctuation, pick the referrals
   of that patient; the one whose episode holds the row's date matches.
3. None, or more than one: the row goes to review, with the reason and the
   candidates.

A referral's episode runs from the day it was received to the day it was
discharged or lost (and for as long as it is open); a payment may arrive up
to PAYMENT_GRACE_DAYS after the episode, a visit is refused after it.
"""

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Max, Q

from clinics.clock import local_date, organization_zone
from clinics.models import Organization
from referrals.models import Referral, Status

from .reading import fold

PAYMENT_GRACE_DAYS = 365
VISIT_GRACE_DAYS = 7


@dataclass(frozen=True, slots=True)
class Episode:
    referral_id: int
    number: int  # the referral's number, as its organization knows it
    clinic_id: int
    account_number: str
    starts_on: date
    ends_on: date | None  # None while the referral is open

    def holds(self, day: date, *, grace_days: int) -> bool:
        return self.starts_on <= day and (
            self.ends_on is None or day <= self.ends_on + timedelta(days=grace_days)
        )

    def match(self, *, by: str) -> "Match":
        return Match(self.referral_id, number=self.number, clinic_id=self.clinic_id, by=by)


@dataclass(frozen=True, slots=True)
class Match:
    referral_id: int | None
    number: int | None = None
    clinic_id: int | None = None
    by: str = ""  # "account" or "name"
    reason: str = ""
    candidate_ids: list[int] = field(default_factory=list)


def patient_key(last_name: str, first_name: str, birth_date: date | None) -> tuple[str, str, date | None]:
    first_words = fold(first_name).replace(".", " ").split()
    last = "".join(ch for ch in fold(last_name) if ch.isalnum())
    return last, (first_words[0] if first_words else ""), birth_date


def split_patient_name(name: str) -> tuple[str, str]:
    """(last, first) from “Smith, John A” or “John A Smith”."""
    if "," in name:
        last, _, first = name.partition(",")
        return last.strip(), first.strip()
    words = name.split()
    return (words[-1], " ".join(words[:-1])) if words else ("", "")


class Matcher:
    def __init__(self, *, organization: Organization) -> None:
        zone = organization_zone(organization)
        self.by_account: dict[str, list[Episode]] = defaultdict(list)
        self.by_patient: dict[tuple[str, str, date | None], list[Episode]] = defaultdict(list)
        self.episodes: dict[int, Episode] = {}
        referrals = (
            Referral.objects.for_organization(organization)
            .annotate(
                closed_at=Max(
                    "status_changes__changed_at",
                    filter=Q(status__in=[Status.DISCHARGED, Status.LOST]),
                )
            )
            .values_list(
                "pk",
                "number",
                "clinic_id",
                "patient_account_number",
                "patient_last_name",
                "patient_first_name",
                "patient_birth_date",
                "received_at",
                "closed_at",
            )
            .order_by("received_at", "pk")
        )
        for pk, number, clinic_id, account, last, first, born, received_at, closed_at in referrals.iterator(
            chunk_size=5000
        ):
            episode = Episode(
                referral_id=pk,
                number=number,
                clinic_id=clinic_id,
                account_number=account,
                starts_on=local_date(received_at, zone),
                ends_on=local_date(closed_at, zone) if closed_at else None,
            )
            self.episodes[pk] = episode
            if account:
                self.by_account[account].append(episode)
            self.by_patient[patient_key(last, first, born)].append(episode)

    def match(
        self,
        *,
        account_number: str,
        last_name: str,
        first_name: str,
        birth_date: date | None,
        day: date,
        payment: bool,
    ) -> Match:
        grace = PAYMENT_GRACE_DAYS if payment else VISIT_GRACE_DAYS
        if account_number and account_number in self.by_account:
            episodes = self.by_account[account_number]
            if len(episodes) == 1:
                return episodes[0].match(by="account")
            return self._pick(episodes, day, grace, by="account")
        if not last_name or birth_date is None:
            return Match(
                None, reason="No referral has this account number, and the row names no patient to look for."
            )
        patients = self.by_patient.get(patient_key(last_name, first_name, birth_date), [])
        if not patients:
            return Match(None, reason="No referral of a patient with this name and date of birth.")
        return self._pick(patients, day, grace, by="name")

    def remember(self, account_number: str, referral_id: int) -> bool:
        """Records the number of a referral matched by name that has none; later rows match it by number.

        Returns whether it was recorded: a referral keeps the number it has.
        """
        episode = self.episodes[referral_id]
        if episode.account_number:
            return False
        remembered = dataclasses.replace(episode, account_number=account_number)
        self.episodes[referral_id] = remembered
        self.by_account[account_number].append(remembered)
        return True

    @staticmethod
    def _pick(episodes: list[Episode], day: date, grace: int, *, by: str) -> Match:
        holding = [episode for episode in episodes if episode.holds(day, grace_days=grace)]
        if len(holding) == 1:
            return holding[0].match(by=by)
        ids = [episode.referral_id for episode in (holding or episodes)]
        if holding:
            return Match(
                None,
                reason=f"{len(holding)} referrals of this patient cover {day:%m/%d/%Y}.",
                candidate_ids=ids,
            )
        return Match(None, reason=f"No referral of this patient covers {day:%m/%d/%Y}.", candidate_ids=ids)
