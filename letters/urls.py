from django.urls import path

from . import views

app_name = "letters"

urlpatterns = [
    path("", views.letter_list, name="list"),
    path("review/", views.review_queue, name="review"),
    path("to-send/", views.send_queue, name="to_send"),
    path("loop/", views.loop_list, name="loop"),
    path("<int:letter_id>/", views.letter_detail, name="detail"),
    path("<int:letter_id>/edit/", views.letter_edit, name="edit"),
    path("<int:letter_id>/approve/", views.letter_approve, name="approve"),
    path("<int:letter_id>/withdraw/", views.letter_withdraw, name="withdraw"),
    path("<int:letter_id>/sent/", views.letter_mark_sent, name="mark_sent"),
    path("<int:letter_id>/print/", views.letter_print, name="print"),
    # The emailed link: a signed, expiring token, opened without signing in.
    path("read/<str:token>/", views.letter_read, name="read"),
]
