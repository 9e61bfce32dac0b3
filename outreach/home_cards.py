"""Outreach's cards on the home page (see clinics/home_cards.py).

Sources needing attention lead to the Attention list (with "Only my
sources" for one's own); follow-ups to the follow-up list's overdue and
today sections, and, for admins, to everyone's (`?everyone=1`).
"""

from django.urls import reverse

from clinics.home_cards import CardContent, HomeCard, HomeContext, HomeCount, HomeLink, register_home_card
from clinics.models import Role

from .flags import attention_counts
from .roles import OUTREACH, RUNS_OUTREACH
from .selectors import followup_counts


def _sources_needing_attention(context: HomeContext) -> CardContent:
    counts = attention_counts(organization=context.organization, owner_id=context.user.pk)
    attention = reverse("outreach:attention")
    return CardContent(
        counts=[
            HomeCount("of your sources", counts.mine, f"{attention}?mine=on", urgent=True),
            HomeCount("sources in all", counts.everyone, attention),
        ],
        empty="Nothing waiting — every source is within its contact cadence and referring as usual.",
        links=[HomeLink("Log a touch", reverse("outreach:touch_create"))],
    )


def _followups(context: HomeContext) -> CardContent:
    counts = followup_counts(organization=context.organization, user=context.user, today=context.person_today)
    mine = reverse("outreach:followups")
    shown = [
        HomeCount("overdue", counts.overdue, f"{mine}#overdue-heading", urgent=True),
        HomeCount("due today", counts.today, f"{mine}#today-heading"),
    ]
    if context.membership.role == Role.ADMIN:
        everyone = f"{mine}?everyone=1"
        shown += [
            HomeCount("overdue across the team", counts.everyone_overdue, f"{everyone}#overdue-heading"),
            HomeCount("due today across the team", counts.everyone_today, f"{everyone}#today-heading"),
        ]
    return CardContent(
        counts=shown,
        empty="Nothing due today — your next steps wait on your follow-up list until their day.",
        links=[HomeLink("All my follow-ups", mine)],
    )


register_home_card(
    HomeCard(
        key="outreach.attention",
        title="Sources needing attention",
        roles=RUNS_OUTREACH,
        order=50,
        counts=_sources_needing_attention,
    )
)
register_home_card(
    HomeCard(
        key="outreach.followups",
        title="Follow-ups",
        roles=OUTREACH,
        order=60,
        counts=_followups,
    )
)
