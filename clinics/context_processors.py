from django.http import HttpRequest

from .models import Role
from .tenancy import ALL_ROLES

# The product's navigation in one place: (label, URL name, roles that see it).
# Each later part of Rapport adds its entry here when its pages exist.
NAVIGATION = [
    ("Home", "home", ALL_ROLES),
    ("Clinics", "clinics:list", ALL_ROLES),
    ("Staff", "clinics:staff_list", {Role.ADMIN}),
]


def navigation(request: HttpRequest) -> dict:
    membership = getattr(request, "membership", None)
    if membership is None:
        return {"navigation": []}
    return {
        "navigation": [(label, url_name) for label, url_name, roles in NAVIGATION if membership.role in roles]
    }
