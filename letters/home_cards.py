"""The letters' card on the home page (see clinics/home_cards.py).

Each role sees the part of the letters' work that is theirs: a therapist the
letters of their patients waiting for review, the front desk the letters to
print and send, a liaison the physicians who have not heard back, an admin
all three.
"""

import datetime

from django.urls import reverse

from clinics.home_cards import CardContent, HomeCard, HomeContext, HomeCount, HomeLink, register_home_card
from clinics.models import Role
from clinics.roles import ALL_ROLES

from .roles import REVIEWERS
from .selectors import letter_settings_get, letters_to_send, loop_not_closed, review_counts

# A letter waiting longer than this for review is late: shown first and in red.
REVIEW_LATE_AFTER = datetime.timedelta(days=2)
# A letter composed longer ago than this and still not sent is late: in red on its queue.
SEND_LATE_AFTER = datetime.timedelta(days=2)


def _letters(context: HomeContext) -> CardContent:
    """Each role's counts, each read only for the roles it is shown to: one query, or two for open loops."""
    role = context.membership.role
    review, to_send, loop = reverse("letters:review"), reverse("letters:to_send"), reverse("letters:loop")
    shown: list[HomeCount] = []
    if role in REVIEWERS:
        counts = review_counts(
            organization=context.organization,
            late_before=context.now - REVIEW_LATE_AFTER,
            therapist_id=context.user.pk if role == Role.THERAPIST else None,
        )
        shown += [
            HomeCount("waiting for review over 2 days", counts.late, f"{review}?late=1", urgent=True),
            HomeCount("waiting for review", counts.waiting, review),
        ]
    if role in (Role.FRONT_DESK, Role.ADMIN):
        waiting = letters_to_send(organization=context.organization).count()
        shown.append(HomeCount("to print and send", waiting, to_send))
    if role in (Role.LIAISON, Role.ADMIN):
        rules = letter_settings_get(organization=context.organization)
        open_loops = loop_not_closed(organization=context.organization, rules=rules, now=context.now).count()
        shown.append(HomeCount("patients whose physician has not heard back", open_loops, loop))
    return CardContent(
        counts=shown,
        empty="Nothing waiting — every letter has gone out and every physician has heard back.",
        links=[HomeLink("All letters", reverse("letters:list"))],
    )


register_home_card(
    HomeCard(key="letters.letters", title="Letters to physicians", roles=ALL_ROLES, order=45, counts=_letters)
)
