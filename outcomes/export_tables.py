"""Outcomes in the organization data export (clinics/exports/registry.py)."""

from clinics.exports.registry import register

from .models import CareNote, NpsResponse, NpsSurvey, OutcomeScore

register(CareNote, name="care_notes", description="Evaluation, progress and discharge notes.")
register(
    OutcomeScore, name="outcome_scores", description="Outcome measure scores (LEFS, ODI, …) and their items."
)
register(
    NpsResponse, name="nps_responses", description="Patients' answers to the would-you-recommend question."
)
register(
    NpsSurvey, name="nps_surveys", description="Survey links sent to patients, and when they were answered."
)
