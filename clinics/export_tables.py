"""The organization's own tables in its data export: itself, its clinics, staff, payers and services."""

from django.apps import apps

from accounts.models import User

from .exports.registry import register
from .history import is_tracked
from .models import (
    Clinic,
    Membership,
    Organization,
    OrganizationExport,
    Payer,
    SecondFactorReset,
    SecuritySettings,
    ServiceOffering,
)

register(
    Organization,
    name="organization",
    description="The organization itself: its name and time zone.",
    queryset=lambda organization: Organization.objects.filter(pk=organization.pk),
)
register(Clinic, name="clinics", description="The organization's clinics (locations).")
register(
    Clinic.payers.through,
    name="clinic_payers",
    description="Which payers each clinic is in network with.",
    exclude_fields=("id",),
    queryset=lambda organization: Clinic.payers.through.objects.filter(clinic__organization=organization),
)
register(
    Membership,
    name="staff",
    description=(
        "Everyone who has had access to the organization, with their role. "
        "Other tables name people by user_id: the user_id column here says who that is."
    ),
    extra_columns=("user__username", "user__first_name", "user__last_name", "user__email"),
    identifies={User: "user_id"},
)
register(Payer, name="payers", description="Insurers and payment sources on the organization's list.")
register(ServiceOffering, name="service_offerings", description="The programs each clinic offers.")
register(
    ServiceOffering.populations.through,
    name="service_offering_populations",
    description="Which patient populations each program serves.",
    exclude_fields=("id", "population"),
    extra_columns=("population__code",),
    queryset=lambda organization: ServiceOffering.populations.through.objects.filter(
        serviceoffering__organization=organization
    ),
)
register(
    OrganizationExport,
    name="data_exports",
    description="Every data export of the organization like this one: who asked, when, and its size.",
    exclude_fields=("file", "claim_token"),
)
register(SecuritySettings, name="security_settings", description="How the organization's people sign in.")
register(
    SecondFactorReset,
    name="second_factor_resets",
    description="Each time an admin cleared a member's second factor (a lost phone): whose, by whom, when.",
)

# The change history of every record that keeps one (clinics/history.py), whichever app owns the
# record: read from the model registry, so clinics names no higher app.
for tracked in apps.get_models():
    if is_tracked(tracked):
        meta = tracked._meta
        register(
            tracked.history.model,  # type: ignore[attr-defined]
            name=f"history_{meta.app_label}_{meta.model_name}",
            description=f"Every change to {meta.verbose_name_plural}: each row is the record as it was "
            "after the change (history_type + created, ~ changed, - deleted), who made it "
            "(history_user_id) and when (history_date).",
        )
