from django.db.models import QuerySet

from .models import Clinic, Membership, Organization


def clinic_list(*, organization: Organization) -> QuerySet[Clinic]:
    return Clinic.objects.for_organization(organization).order_by("-is_active", "name")


def membership_list(*, organization: Organization) -> QuerySet[Membership]:
    return (
        Membership.objects.for_organization(organization)
        .select_related("user", "home_clinic")
        .order_by("-is_active", "user__last_name", "user__first_name", "user__username")
    )
