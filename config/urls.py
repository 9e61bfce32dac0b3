from django.contrib import admin
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.cache import never_cache

from clinics import views as clinic_views
from outbox.password_reset import OutboxPasswordResetView


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and docker-compose: answers only if the database does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("", clinic_views.home, name="home"),
    path("clinics/", include("clinics.urls")),
    path("directory/", include("physicians.urls")),
    path("referrals/", include("referrals.urls")),
    path("billing/", include("billing.urls")),
    path("outcomes/", include("outcomes.urls")),
    path("outreach/", include("outreach.urls")),
    path("announcements/", include("announcements.urls")),
    path("letters/", include("letters.urls")),
    path("analytics/", include("analytics.urls")),
    path("digests/", include("digests.urls")),
    path("email/", include("outbox.urls")),
    path("audit/", include("audit.urls")),
    # Password reset mails through the outbox, which `accounts` may not import.
    path(
        "accounts/password/reset/",
        OutboxPasswordResetView.as_view(),
        name="password_reset",
    ),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
]
