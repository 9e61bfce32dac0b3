from django.urls import path

from . import import_views, views

app_name = "physicians"

urlpatterns = [
    path("", views.physician_list, name="list"),
    path("prospects/", views.prospects, name="prospects"),
    path("search/", views.physician_search, name="search"),
    path("export.csv", views.physician_export, name="export"),
    path("new/", views.physician_create, name="create"),
    path("<int:physician_id>/", views.physician_detail, name="detail"),
    path("<int:physician_id>/edit/", views.physician_edit, name="edit"),
    path("<int:physician_id>/stage/", views.physician_stage, name="stage"),
    path("<int:physician_id>/active/", views.physician_toggle_active, name="toggle_active"),
    path("<int:physician_id>/merge/", views.physician_merge, name="merge"),
    path("practices/", views.practice_list, name="practice_list"),
    path("practices/new/", views.practice_create, name="practice_create"),
    path("practices/<int:practice_id>/", views.practice_detail, name="practice_detail"),
    path("practices/<int:practice_id>/edit/", views.practice_edit, name="practice_edit"),
    path("practices/<int:practice_id>/active/", views.practice_toggle_active, name="practice_toggle_active"),
    path("practices/<int:practice_id>/gatekeepers/new/", views.gatekeeper_create, name="gatekeeper_create"),
    path("gatekeepers/<int:gatekeeper_id>/edit/", views.gatekeeper_edit, name="gatekeeper_edit"),
    path("imports/", import_views.import_list, name="import_list"),
    path("imports/<int:import_id>/", import_views.import_detail, name="import_detail"),
]
