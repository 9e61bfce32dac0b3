from django.urls import path

from . import export_views, retention_views, views

app_name = "referrals"

urlpatterns = [
    path("", views.referral_list, name="list"),
    path("new/", views.intake, name="intake"),
    path("queues/", views.queues, name="queues"),
    path("find/", views.patient_search, name="patient_search"),
    path("board/", views.referral_board, name="board"),
    path("move/", views.bulk_transition, name="bulk_transition"),
    path("<int:referral_id>/", views.referral_detail, name="detail"),
    path("<int:referral_id>/move/", views.transition, name="transition"),
    path("<int:referral_id>/appointment/", views.reschedule, name="reschedule"),
    path("<int:referral_id>/attempts/", views.contact_attempt_log, name="contact_attempt_log"),
    path("<int:referral_id>/documents/", views.document_add, name="document_add"),
    path("<int:referral_id>/documents/<int:document_id>/", views.document, name="document"),
    path("<int:referral_id>/plans/", views.plan_save, name="plan_create"),
    path("<int:referral_id>/plans/<int:plan_id>/", views.plan_save, name="plan_update"),
    path("plans/", views.plans_awaiting_signature, name="plans_awaiting"),
    path("retention/", retention_views.retention, name="retention"),
    path("exports/", export_views.export_start, name="export"),
    path("exports/<int:export_id>/", export_views.export_detail, name="export_detail"),
    path("exports/<int:export_id>/download/", export_views.export_download, name="export_download"),
]
