"""Reads for the organization data export."""

from ..models import Organization, OrganizationExport


def organization_exports_recent(*, organization: Organization, limit: int = 20) -> list[OrganizationExport]:
    return list(
        OrganizationExport.objects.for_organization(organization).select_related("requested_by")[:limit]
    )
