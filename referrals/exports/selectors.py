"""Reads for the referral export."""

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet

from clinics.models import Organization

from ..models import Referral, ReferralExport
from ..selectors import referral_list


def referral_export_rows(
    *, organization: Organization, filters: Mapping[str, Any], fields: list[str]
) -> QuerySet[Referral]:
    """The list page's referrals for these filters, in its order, loading only `fields` (joined records too).

    A field a row reads but `fields` leaves out would cost a query per row:
    the export's query-count test would catch it.
    """
    return (
        referral_list(organization=organization, filters=filters)
        .select_related("referring_practice")
        .only(*fields)
    )


def referral_exports_recent(*, organization: Organization, limit: int = 20) -> list[ReferralExport]:
    return list(ReferralExport.objects.for_organization(organization).select_related("requested_by")[:limit])
