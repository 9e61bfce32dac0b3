from django.urls import path

from . import views

app_name = "outcomes"

urlpatterns = [
    path("referrals/<int:referral_id>/note/", views.care_note_create, name="care_note_create"),
    path("referrals/<int:referral_id>/nps/", views.nps_create, name="nps_create"),
    path("referrals/<int:referral_id>/survey-link/", views.survey_link, name="survey_link"),
    path("referrals/<int:referral_id>/survey-email/", views.survey_email, name="survey_email"),
    path("scores/<int:score_id>/remove/", views.score_remove, name="score_remove"),
    path("scorecards/", views.scorecards, name="scorecards"),
    path("scorecards/clinic/", views.organization_scorecard, name="organization_scorecard"),
    path("scorecards/physicians/<int:physician_id>/", views.physician_scorecard, name="physician_scorecard"),
    path("survey/<str:token>/", views.survey, name="survey"),
]
