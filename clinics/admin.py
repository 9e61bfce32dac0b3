from django.contrib import admin

from .models import Clinic, Membership, Organization
from .services import membership_changed


class ClinicInline(admin.TabularInline):
    model = Clinic
    extra = 0


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created_at")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [ClinicInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "role", "is_active")
    list_filter = ("organization", "role", "is_active")
    search_fields = ("user__username", "user__first_name", "user__last_name")
    autocomplete_fields = ("user",)
    raw_id_fields = ("home_clinic",)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # The admin site edits roles outside the services: later apps still hear of it.
        membership_changed(obj)
