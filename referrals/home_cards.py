"""The referral pipeline's cards on the home page (see clinics/home_cards.py).

Every count links to the queue or list that shows the same referrals: the
queues by name (`?queue=…`, late ones with `&late=1`), the referral list by
status, therapist and day received, the plans of care by status and by the
person's own patients (`?mine=1`).
"""

from urllib.parse import urlencode

from django.urls import reverse

from clinics.home_cards import CardContent, HomeCard, HomeContext, HomeCount, HomeLink, register_home_card
from clinics.models import Role
from clinics.roles import ADMINS

from .models import ReferralSettings, Status
from .plans import PlanStatus
from .selectors import (
    APPOINTMENT_PASSED,
    PlanCounts,
    ReferralWorkCounts,
    clinic_timezones,
    plan_counts,
    referral_settings_get,
    referral_work_counts,
)

FRONT_DESK_AND_ADMINS = frozenset({Role.FRONT_DESK, Role.ADMIN})
THERAPISTS = frozenset({Role.THERAPIST})


def _url(url_name: str, **parameters: object) -> str:
    return f"{reverse(url_name)}?{urlencode(parameters)}" if parameters else reverse(url_name)


def _rules(context: HomeContext) -> ReferralSettings:
    return context.shared("referrals.rules", lambda: referral_settings_get(organization=context.organization))


def _work(context: HomeContext) -> ReferralWorkCounts:
    """The pipeline's counts, read once for all the cards that show some of them."""
    return context.shared(
        "referrals.work",
        lambda: referral_work_counts(
            organization=context.organization,
            now=context.now,
            rules=_rules(context),
            timezones=clinic_timezones(organization=context.organization),
            therapist_id=context.user.pk,
        ),
    )


def _patients_to_reach(context: HomeContext) -> CardContent:
    work = _work(context)
    return CardContent(
        counts=[
            HomeCount(
                "late for the first call",
                work.late_for_contact,
                _url("referrals:queues", queue="needs_contact", late=1),
                urgent=True,
            ),
            HomeCount(
                "to contact in all",
                work.to_contact,
                _url("referrals:queues", queue="needs_contact"),
            ),
            HomeCount("to schedule", work.to_schedule, _url("referrals:queues", queue="needs_scheduling")),
        ],
        empty="Nothing waiting — every referral has been called and scheduled. "
        "New ones appear here as soon as they are logged.",
        links=[
            HomeLink("New referral", reverse("referrals:intake")),
            HomeLink("All queues", reverse("referrals:queues")),
        ],
    )


# Scheduled, the appointment's day over, no evaluation recorded (selectors.appointment_passed).
MISSED = "past their appointment day, evaluation not recorded"


def _evaluations(context: HomeContext) -> CardContent:
    work = _work(context)
    return CardContent(
        counts=[
            HomeCount(
                "scheduled for their evaluation",
                work.awaiting_evaluation,
                _url("referrals:list", status=Status.SCHEDULED),
            ),
            HomeCount(
                MISSED,
                work.appointment_passed,
                _url("referrals:list", status=Status.SCHEDULED, appointment=APPOINTMENT_PASSED),
                urgent=True,
            ),
        ],
        empty="Nothing booked — referrals appear here once they are scheduled for their evaluation.",
    )


def _my_evaluations(context: HomeContext) -> CardContent:
    work = _work(context)
    return CardContent(
        counts=[
            HomeCount(
                "scheduled with you for their evaluation",
                work.my_awaiting_evaluation,
                _url("referrals:list", status=Status.SCHEDULED, therapist=context.user.pk),
            ),
            HomeCount(
                MISSED,
                work.my_appointment_passed,
                _url(
                    "referrals:list",
                    status=Status.SCHEDULED,
                    therapist=context.user.pk,
                    appointment=APPOINTMENT_PASSED,
                ),
                urgent=True,
            ),
        ],
        empty="Nothing booked with you — referrals appear here once they are scheduled "
        "for their evaluation with you as the therapist.",
        links=[HomeLink("Everyone's evaluations", _url("referrals:list", status=Status.SCHEDULED))],
    )


def _plan_card(counts: PlanCounts, *, mine: bool) -> CardContent:
    scope = {"mine": 1} if mine else {}
    return CardContent(
        counts=[
            HomeCount(
                "overdue for signature",
                counts.overdue,
                _url("referrals:plans_awaiting", status=PlanStatus.OVERDUE, **scope),
                urgent=True,
            ),
            HomeCount(
                "not sent to the physician yet",
                counts.not_sent,
                _url("referrals:plans_awaiting", status=PlanStatus.NOT_SENT, **scope),
            ),
            HomeCount("unsigned in all", counts.unsigned, _url("referrals:plans_awaiting", **scope)),
        ],
        empty=(
            "Nothing waiting — every plan of care of your patients' open referrals is signed."
            if mine
            else "Nothing waiting — every plan of care of an open referral is signed."
        ),
    )


def _plans(context: HomeContext) -> CardContent:
    counts = plan_counts(
        organization=context.organization, today=context.organization_today, rules=_rules(context)
    )
    return _plan_card(counts, mine=False)


def _my_plans(context: HomeContext) -> CardContent:
    counts = plan_counts(
        organization=context.organization,
        today=context.organization_today,
        rules=_rules(context),
        therapist_id=context.user.pk,
    )
    return _plan_card(counts, mine=True)


def _todays_intake(context: HomeContext) -> CardContent:
    work = _work(context)
    return CardContent(
        counts=[
            HomeCount(
                "received today",
                work.received_today,
                _url("referrals:list", received_on=context.organization_today.isoformat()),
            )
        ],
        empty="No referral received yet today. Faxes and calls appear here as the desk logs them.",
        links=[
            HomeLink("All referrals", reverse("referrals:list")),
            HomeLink("Board", reverse("referrals:board")),
        ],
    )


register_home_card(
    HomeCard(
        key="referrals.contact",
        title="Patients to reach",
        roles=FRONT_DESK_AND_ADMINS,
        order=10,
        counts=_patients_to_reach,
    )
)
register_home_card(
    HomeCard(
        key="referrals.my_evaluations",
        title="My evaluations coming up",
        roles=THERAPISTS,
        order=20,
        counts=_my_evaluations,
    )
)
register_home_card(
    HomeCard(
        key="referrals.evaluations",
        title="Evaluations coming up",
        roles=ADMINS,
        order=20,
        counts=_evaluations,
    )
)
register_home_card(
    HomeCard(
        key="referrals.plans",
        title="Plans of care",
        roles=FRONT_DESK_AND_ADMINS,
        order=30,
        counts=_plans,
    )
)
register_home_card(
    HomeCard(
        key="referrals.my_plans",
        title="My plans of care",
        roles=THERAPISTS,
        order=30,
        counts=_my_plans,
    )
)
register_home_card(
    HomeCard(
        key="referrals.intake_today",
        title="Today's intake",
        roles=ADMINS,
        order=40,
        counts=_todays_intake,
    )
)
