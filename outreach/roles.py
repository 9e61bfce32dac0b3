"""Who may use the outreach pages; the views and the panels read these sets."""

from clinics.models import Role

# Everyone who courts sources: liaisons and admins, and therapists, who give in-services.
OUTREACH = frozenset({Role.THERAPIST, Role.LIAISON, Role.ADMIN})
# Comparing colleagues' activity and choosing whom to call next is for the people who run outreach.
RUNS_OUTREACH = frozenset({Role.LIAISON, Role.ADMIN})
