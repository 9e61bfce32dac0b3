from django.db import migrations


class Migration(migrations.Migration):
    """The announcement tables take this app's names, once outreach has let go of them (outreach 0004).

    Renames keep every row; the populations table is renamed with its model.
    """

    dependencies = [
        ("announcements", "0001_take_over_service_announcements"),
        ("outreach", "0004_touch_announcement_moves_out"),
    ]

    operations = [
        migrations.AlterModelTable(name="serviceannouncement", table=None),
        migrations.RenameIndex(
            model_name="serviceannouncement",
            new_name="announcements_org_created",
            old_name="outreach_announce_org_created",
        ),
    ]
