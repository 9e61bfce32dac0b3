from dataclasses import dataclass

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

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


@dataclass(frozen=True)
class OrganizationOverview:
    clinics_open: int
    staff_active: int


def _count_of(queryset: QuerySet[Clinic] | QuerySet[Membership]) -> Coalesce:
    counted = queryset.filter(organization=OuterRef("pk")).order_by().values("organization")
    return Coalesce(
        Subquery(counted.annotate(total=Count("pk")).values("total"), output_field=IntegerField()), 0
    )


def organization_overview(*, organization: Organization) -> OrganizationOverview:
    """Its open clinics and active staff, in one query."""
    row = (
        Organization.objects.filter(pk=organization.pk)
        .values(
            clinics_open=_count_of(Clinic.objects.filter(is_active=True)),
            staff_active=_count_of(Membership.objects.filter(is_active=True)),
        )
        .get()
    )
    return OrganizationOverview(clinics_open=row["clinics_open"], staff_active=row["staff_active"])
