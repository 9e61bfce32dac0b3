from django.db.models import QuerySet

from .models import Clinic, Membership, Organization, Payer, ServiceOffering


def clinic_list(*, organization: Organization) -> QuerySet[Clinic]:
    return (
        Clinic.objects.for_organization(organization)
        .prefetch_related("payers")
        .order_by("-is_active", "name")
    )


def membership_list(*, organization: Organization) -> QuerySet[Membership]:
    return (
        Membership.objects.for_organization(organization)
        .select_related("user", "home_clinic")
        .order_by("-is_active", "user__last_name", "user__first_name", "user__username")
    )


def payer_list(*, organization: Organization) -> QuerySet[Payer]:
    return (
        Payer.objects.for_organization(organization)
        .prefetch_related("clinics")
        .order_by("-is_active", "name")
    )


def service_offering_list(*, organization: Organization) -> QuerySet[ServiceOffering]:
    return (
        ServiceOffering.objects.for_organization(organization)
        .select_related("clinic")
        .prefetch_related("populations")
        .order_by("clinic__name", "name")
    )
