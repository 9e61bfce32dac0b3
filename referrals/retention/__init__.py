"""Retention of patient details: removing a patient's identifiers years after the referral closed.

Each organization keeps patient details for `ReferralSettings.
patient_details_retention_years` after a referral was discharged or lost
(`selectors.referrals_past_retention`). Past it, the nightly job
(`services.patient_details_remove`) removes the patient's identifiers and
keeps the referral with its dates, source, payer, outcomes and amounts, so
every figure and rollup stays the same. Higher apps that copied patient
details (a letter naming the patient, a survey email to the patient) erase
their copies through the registry in `erasers.py`.
"""
