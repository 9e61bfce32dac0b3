from django.contrib import admin

from .models import EmailSuppression, OutboundEmail


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    """Read-only: every change goes through the outbox's services."""

    list_display = ("id", "organization", "kind", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status", "kind", "organization")
    exclude = ("body_text", "body_html")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(EmailSuppression)
class EmailSuppressionAdmin(admin.ModelAdmin):
    list_display = ("address", "organization", "reason", "created_at")
    list_filter = ("organization",)
    search_fields = ("address",)
