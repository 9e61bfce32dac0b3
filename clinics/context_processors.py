from django.http import HttpRequest
from django.urls import reverse

from .models import Role
from .tenancy import ALL_ROLES

# The product's navigation in one place: (label, URL name, roles that see it).
# Each later part of Rapport adds its entry here when its pages exist.
NAVIGATION = [
    ("New referral", "referrals:intake", ALL_ROLES),
    ("Queues", "referrals:queues", ALL_ROLES),
    ("Referrals", "referrals:list", ALL_ROLES),
    ("Plans of care", "referrals:plans_awaiting", ALL_ROLES),
    ("Physicians", "physicians:list", ALL_ROLES),
    ("Practices", "physicians:practice_list", ALL_ROLES),
    ("Prospects", "physicians:prospects", {Role.LIAISON, Role.ADMIN}),
    ("Attention", "outreach:attention", {Role.LIAISON, Role.ADMIN}),
    ("Follow-ups", "outreach:followups", {Role.THERAPIST, Role.LIAISON, Role.ADMIN}),
]


def navigation(request: HttpRequest) -> dict:
    """The menu for the user's role, with the entry whose URL is the longest prefix of this page marked."""
    membership = getattr(request, "membership", None)
    if membership is None:
        return {"navigation": []}
    items = [(label, reverse(url_name)) for label, url_name, roles in NAVIGATION if membership.role in roles]
    matches = [
        url for _, url in items if request.path == url or (url != "/" and request.path.startswith(url))
    ]
    current = max(matches, key=len, default=None)
    return {"navigation": [(label, url, url == current) for label, url in items]}
