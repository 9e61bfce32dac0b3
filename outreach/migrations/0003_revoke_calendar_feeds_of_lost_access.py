from django.db import migrations
from django.db.models import Exists, OuterRef
from django.db.models.functions import Now

# outreach.roles.OUTREACH as it stands: a migration must not follow later edits of the code.
OUTREACH_ROLES = ["therapist", "liaison", "admin"]


def revoke_feeds_of_lost_access(apps, schema_editor):
    # Until now a deactivated membership only suspended its calendar address,
    # which reactivation would revive; revoke those for good, as leaving now does.
    CalendarFeed = apps.get_model("outreach", "CalendarFeed")
    Membership = apps.get_model("clinics", "Membership")
    entitled = Membership.objects.filter(
        organization_id=OuterRef("organization_id"),
        user_id=OuterRef("user_id"),
        is_active=True,
        role__in=OUTREACH_ROLES,
    )
    CalendarFeed.objects.filter(revoked_at__isnull=True).exclude(Exists(entitled)).update(revoked_at=Now())


class Migration(migrations.Migration):
    dependencies = [
        ("outreach", "0002_touch_logged_by"),
        ("clinics", "0005_contact_cadence"),
    ]

    operations = [migrations.RunPython(revoke_feeds_of_lost_access, migrations.RunPython.noop)]
