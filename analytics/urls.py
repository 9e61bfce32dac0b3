from django.urls import path

from . import views

app_name = "analytics"

urlpatterns = [path("", views.index, name="index")]
for section, page, export in views.section_views():
    urlpatterns += [
        path(f"{section.key}/", page, name=section.key),
        path(f"{section.key}/export.csv", export, name=f"{section.key}_export"),
    ]
