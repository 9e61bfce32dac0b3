from django.urls import path

from . import export_views, two_factor_views, views

app_name = "clinics"

urlpatterns = [
    path("", views.clinic_list, name="list"),
    path("add/", views.clinic_create, name="create"),
    path("<int:clinic_id>/edit/", views.clinic_edit, name="edit"),
    path("payers/", views.payer_list, name="payer_list"),
    path("payers/add/", views.payer_create, name="payer_create"),
    path("payers/<int:payer_id>/edit/", views.payer_edit, name="payer_edit"),
    path("services/", views.service_list, name="service_list"),
    path("services/add/", views.service_create, name="service_create"),
    path("services/<int:offering_id>/edit/", views.service_edit, name="service_edit"),
    path("settings/", views.organization_settings, name="organization_settings"),
    path("data-export/", export_views.data_export, name="data_export"),
    path("data-export/request/", export_views.data_export_request, name="data_export_request"),
    path(
        "data-export/<int:organization_export_id>/",
        export_views.data_export_detail,
        name="data_export_detail",
    ),
    path(
        "data-export/<int:organization_export_id>/download/",
        export_views.data_export_download,
        name="data_export_download",
    ),
    path("staff/", views.staff_list, name="staff_list"),
    path("staff/add/", views.staff_create, name="staff_create"),
    path("staff/<int:membership_id>/edit/", views.staff_edit, name="staff_edit"),
    path("staff/<int:membership_id>/deactivate/", views.staff_deactivate, name="staff_deactivate"),
    path("staff/<int:membership_id>/reactivate/", views.staff_reactivate, name="staff_reactivate"),
    path(
        "staff/<int:membership_id>/two-factor/reset/",
        two_factor_views.staff_two_factor_reset,
        name="staff_two_factor_reset",
    ),
    path("two-factor/", two_factor_views.two_factor_enrol, name="two_factor_enrol"),
    path("two-factor/code/", two_factor_views.two_factor_verify, name="two_factor_verify"),
    path(
        "organization/<int:organization_id>/switch/",
        views.switch_organization,
        name="switch_organization",
    ),
]
