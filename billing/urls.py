from django.urls import path

from . import import_views, views

app_name = "billing"

urlpatterns = [
    path("referrals/<int:referral_id>/visits/new/", views.visit_create, name="visit_create"),
    path("visits/<int:visit_id>/", views.visit_edit, name="visit_edit"),
    path("visits/<int:visit_id>/remove/", views.visit_remove, name="visit_remove"),
    path("referrals/<int:referral_id>/payments/new/", views.payment_create, name="payment_create"),
    path("payments/<int:payment_id>/", views.payment_edit, name="payment_edit"),
    path("payments/<int:payment_id>/remove/", views.payment_remove, name="payment_remove"),
    path("imports/", import_views.import_list, name="import_list"),
    path("imports/<int:billing_import_id>/", import_views.import_detail, name="import_detail"),
    path("review/", import_views.review_list, name="review_list"),
    path("review/<int:review_id>/", import_views.review_resolve, name="review_resolve"),
]
