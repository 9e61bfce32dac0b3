"""The directory's card on the home page (see clinics/home_cards.py): the prospects worth a visit.

Fit is counted with the person's own clinic (else the organization's first
open one), as the prospects page ranks by default; the count leads to that
page with "Strong fit only".
"""

from urllib.parse import urlencode

from django.urls import reverse

from clinics.home_cards import CardContent, HomeCard, HomeContext, HomeCount, HomeLink, register_home_card

from .fit import STRONG_FIT, clinic_profile
from .roles import DIRECTORY_EDITORS
from .selectors import clinic_for_fit, prospects_best_fit

LEADING_PROSPECTS = 3


def _best_fit(context: HomeContext) -> CardContent | None:
    clinic = clinic_for_fit(
        organization=context.organization, clinic_id=None, default=context.membership.home_clinic
    )
    if clinic is None:
        return None  # No clinic to fit with: the prospects page says to add one.
    best = prospects_best_fit(
        organization=context.organization, profile=clinic_profile(clinic), limit=LEADING_PROSPECTS
    )
    for_clinic = urlencode({"clinic": clinic.pk})
    return CardContent(
        counts=[
            HomeCount(
                f"fit {clinic.name} strongly ({STRONG_FIT}+)",
                best.strong,
                f"{reverse('physicians:prospects')}?{for_clinic}&strong=1",
            )
        ],
        items=[
            HomeLink(
                physician.display_name,
                f"{reverse('physicians:detail', args=[physician.pk])}?{for_clinic}",
                detail=f"fit {physician.fit_score}",  # type: ignore[attr-defined]  # with_fit's annotation
            )
            for physician in best.leading
        ],
        empty=f"No prospect fits {clinic.name} strongly yet — record the payers and patients "
        "of their practices, and fit ranks them.",
        links=[HomeLink("All prospects", f"{reverse('physicians:prospects')}?{for_clinic}")],
    )


register_home_card(
    HomeCard(
        key="physicians.best_fit",
        title="Prospects with the best fit",
        roles=DIRECTORY_EDITORS,
        order=70,
        counts=_best_fit,
    )
)
