from django.urls import path

from . import attention_views, views

app_name = "outreach"
urlpatterns = [
    path("touches/", views.touch_list, name="touch_list"),
    path("touches/new/", views.touch_create, name="touch_create"),
    path("touches/<int:touch_id>/remove/", views.touch_remove, name="touch_remove"),
    path("follow-ups/", views.followup_list, name="followups"),
    path("follow-ups/<int:followup_id>/complete/", views.followup_complete, name="followup_complete"),
    path("follow-ups/<int:followup_id>/log/", views.followup_log_touch, name="followup_log_touch"),
    path("follow-ups/<int:followup_id>/snooze/", views.followup_snooze, name="followup_snooze"),
    path("calendar/", views.calendar_settings, name="calendar_settings"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
    path("activity/", views.activity, name="activity"),
    path("attention/", attention_views.attention, name="attention"),
    path("attention/log/", attention_views.attention_log, name="attention_log"),
]
