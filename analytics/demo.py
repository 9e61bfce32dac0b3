"""Demo figures for `manage.py seed_demo`: the rollups of the demo organizations.

The other apps' demos write through their bulk paths (referrals, visits and
payments call the hooks; the outreach demo inserts its year of touches
directly), so the rollups are rebuilt here, last, from what they wrote.
"""

from clinics.models import Organization

from .rollups import rollups_rebuild

DEMO_ORGANIZATIONS = ("summit", "harbor")


def seed(stdout=None) -> None:
    for organization in Organization.objects.filter(slug__in=DEMO_ORGANIZATIONS):
        covered = rollups_rebuild(organization=organization)
        if stdout is not None:
            stdout.write(f"{organization.name}: dashboards' rollups cover {covered} referrals")
