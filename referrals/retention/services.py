"""Writes for retention: remove patient details past the retention period, for one organization or all."""

import datetime
import logging

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.models import AccessKind
from audit.services import Access, access_record
from clinics.models import Organization

from ..models import ContactAttempt, PatientDetailsRemoval, Referral, ReferralDocument
from ..selectors import referral_settings_get
from .erasers import erase_copies
from .selectors import referrals_past_retention, retention_closed_before

logger = logging.getLogger(__name__)

# Referrals removed per transaction: short locks, and a killed run loses at most one batch's work.
REMOVAL_BATCH = 500


def patient_details_remove(
    *, organization: Organization, removed_by: User | None = None, now: datetime.datetime | None = None
) -> list[PatientDetailsRemoval]:
    """Removes the patient details of the organization's referrals past retention; returns the runs recorded.

    1. Take up to REMOVAL_BATCH due referrals, locking them (rows another run
       holds are skipped, so two runs never remove the same referral twice).
    2. In the same transaction: blank the identifiers (names, date of birth,
       phone, email, account number, notes, contact-attempt notes), in the
       referral and in every row of its change history, delete
       the documents (their files once it commits), let higher apps erase
       their copies, and record the batch (`PatientDetailsRemoval`).
    3. Repeat until nothing is due, or every due referral is held by another run.
    The referral keeps its number, dates, source, payer, outcomes and
    amounts; no total, rollup or status changes, so every figure stays the same.
    """
    now = now or timezone.now()
    rules = referral_settings_get(organization=organization)
    closed_before = retention_closed_before(organization=organization, rules=rules, now=now)
    runs = []
    while True:
        with transaction.atomic():
            due = list(
                referrals_past_retention(organization=organization, rules=rules, now=now).values_list(
                    "pk", flat=True
                )[:REMOVAL_BATCH]
            )
            locked = list(
                Referral.objects.select_for_update(skip_locked=True)
                .filter(pk__in=due, patient_details_removed_at__isnull=True)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            if not locked:
                break
            runs.append(
                _remove(organization, locked, removed_by=removed_by, now=now, closed_before=closed_before)
            )
    if runs:
        logger.info(
            "Removed the patient details of %d referrals of organization %s",
            sum(run.referral_count for run in runs),
            organization.pk,
        )
    return runs


def _remove(
    organization: Organization,
    referral_ids: list[int],
    *,
    removed_by: User | None,
    now: datetime.datetime,
    closed_before: datetime.date,
) -> PatientDetailsRemoval:
    # A plain UPDATE, not save(): the referral's `version` and `updated_at`
    # say when staff last edited it, and no rollup hook has anything to redo.
    blank = {
        "patient_first_name": "",
        "patient_last_name": "",
        "patient_birth_date": None,
        "patient_phone": "",
        "patient_email": "",
        "patient_account_number": "",
        "notes": "",
    }
    Referral.objects.filter(pk__in=referral_ids).update(**blank, patient_details_removed_at=now)
    # The change history's copies of the referral: every earlier name, date of birth and phone.
    Referral.history.filter(id__in=referral_ids).update(**blank)
    ContactAttempt.objects.filter(organization=organization, referral_id__in=referral_ids).update(note="")
    documents = ReferralDocument.objects.filter(organization=organization, referral_id__in=referral_ids)
    files = [name for name in documents.values_list("file", flat=True) if name]
    documents_removed = documents.count()
    documents.delete()
    # Files are deleted once the rows' removal commits: a rolled-back batch keeps both.
    transaction.on_commit(lambda: _delete_files(files))
    erase_copies(organization=organization, referral_ids=referral_ids)
    removal = PatientDetailsRemoval.objects.create(
        organization=organization,
        removed_at=now,
        removed_by=removed_by,
        closed_before=closed_before,
        referral_ids=referral_ids,
        documents_removed=documents_removed,
    )
    # In the access trail too, in the same transaction: the removal and its record commit together.
    access_record(
        organization=organization,
        access=Access(
            kind=AccessKind.PATIENT_DETAILS_REMOVED,
            user=removed_by,
            path_name="referrals.remove_expired_patient_details",
            object_type="patient details removal",
            object_id=removal.pk,
            detail=f"{len(referral_ids)} referrals closed before {closed_before:%Y-%m-%d}",
            referral_ids=frozenset(referral_ids),
        ),
        at=now,
    )
    return removal


def _delete_files(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


def patient_details_remove_everywhere(*, now: datetime.datetime | None = None) -> int:
    """The nightly job: removes what is due in each organization; returns how many referrals lost details."""
    removed = 0
    for organization in Organization.objects.order_by("pk"):
        runs = patient_details_remove(organization=organization, now=now)
        removed += sum(run.referral_count for run in runs)
    return removed
