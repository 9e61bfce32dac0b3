from django.db import migrations


class Migration(migrations.Migration):
    """Service announcements became their own app, above outreach; a touch no longer names one.

    The announcements app's first migration runs before this one (its
    `run_before`): it takes over the announcement table as it stands and
    copies each touch's announcement into its own link table. Here outreach
    drops the column and forgets the model, keeping the table and its rows.
    """

    dependencies = [
        ("outreach", "0003_revoke_calendar_feeds_of_lost_access"),
    ]

    operations = [
        migrations.RemoveField(model_name="touch", name="announcement"),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ServiceAnnouncement")],
            database_operations=[],
        ),
    ]
