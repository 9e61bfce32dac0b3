from django.urls import path

from . import views

app_name = "outbox"
urlpatterns = [
    path("", views.email_log, name="log"),
    path("<int:email_id>/", views.email_detail, name="detail"),
    path("<int:email_id>/retry/", views.email_retry, name="retry"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
