"""Plan-of-care status, from the organization's signature and certification rules.

Defaults follow Medicare (Benefit Policy Manual ch. 15 §220.1.3): the
physician certifies within 30 days of the first treatment day (the
evaluation included), and a certification lasts at most 90 days, so care
that goes on needs recertification before then. Both numbers are
organization settings because many commercial plans differ.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import models

from physicians.taxonomy import CHIROPRACTOR

from .models import ReferralSettings

# How long before a certification ends the clinic is told to recertify.
RECERTIFY_NOTICE = timedelta(days=14)


class PlanStatus(models.TextChoices):
    NOT_SENT = "not_sent", "Not sent"
    AWAITING_SIGNATURE = "awaiting", "Awaiting signature"
    OVERDUE = "overdue", "Overdue"
    SIGNED = "signed", "Signed"
    RECERTIFICATION_DUE = "recert_due", "Recertification due"


@dataclass(frozen=True)
class PlanState:
    status: PlanStatus
    signature_due_on: date
    certifier_warning: str = ""


def default_ends_on(rules: ReferralSettings, starts_on: date) -> date:
    return starts_on + timedelta(days=rules.poc_certification_days - 1)


def plan_state(plan, *, rules: ReferralSettings, today: date, care_continues: bool) -> PlanState:
    signature_due_on = plan.starts_on + timedelta(days=rules.poc_signature_days)
    warning = (
        "A chiropractor cannot certify a therapy plan of care; ask the patient's physician or NP/PA."
        if plan.certifier.taxonomy_code == CHIROPRACTOR
        else ""
    )
    if plan.signed_on:
        if care_continues and today >= plan.ends_on - RECERTIFY_NOTICE:
            return PlanState(PlanStatus.RECERTIFICATION_DUE, signature_due_on, warning)
        return PlanState(PlanStatus.SIGNED, signature_due_on, warning)
    if today > signature_due_on:
        return PlanState(PlanStatus.OVERDUE, signature_due_on, warning)
    if plan.sent_on:
        return PlanState(PlanStatus.AWAITING_SIGNATURE, signature_due_on, warning)
    return PlanState(PlanStatus.NOT_SENT, signature_due_on, warning)
