from django.urls import path

from . import views

app_name = "digests"

urlpatterns = [
    path("", views.mine, name="mine"),
    path("everyone/", views.recipients, name="recipients"),
    path("<int:organization_id>/", views.digest_view, name="view"),
    path("<int:organization_id>/preferences/", views.preferences, name="preferences"),
    path("<int:organization_id>/send/", views.send_test, name="send_test"),
]
