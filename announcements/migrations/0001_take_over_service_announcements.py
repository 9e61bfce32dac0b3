import itertools

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

BATCH = 2000


def link_touches(apps, schema_editor):
    """Each touch that named an announcement gets a link row, before outreach drops the column."""
    Touch = apps.get_model("outreach", "Touch")
    AnnouncementTouch = apps.get_model("announcements", "AnnouncementTouch")
    touches = (
        Touch.objects.filter(announcement__isnull=False)
        .order_by("pk")
        .values_list("pk", "organization_id", "announcement_id")
        .iterator(chunk_size=BATCH)
    )
    for batch in itertools.batched(touches, BATCH):
        AnnouncementTouch.objects.bulk_create(
            AnnouncementTouch(touch_id=touch_id, organization_id=organization_id, announcement_id=announcement_id)
            for touch_id, organization_id, announcement_id in batch
        )


def unlink_touches(apps, schema_editor):
    """Back to the column on the touch (outreach has restored it by now): one UPDATE per announcement."""
    Touch = apps.get_model("outreach", "Touch")
    AnnouncementTouch = apps.get_model("announcements", "AnnouncementTouch")
    announcement_ids = AnnouncementTouch.objects.order_by().values_list("announcement_id", flat=True).distinct()
    for announcement_id in announcement_ids.iterator():
        linked = AnnouncementTouch.objects.filter(announcement_id=announcement_id).values("touch_id")
        Touch.objects.filter(pk__in=linked).update(announcement_id=announcement_id)


class Migration(migrations.Migration):
    """Takes over outreach's service announcements, keeping every row.

    1. The model is declared here on the table outreach created
       (outreach_serviceannouncement, with its populations table and index),
       without touching the database.
    2. The link from a touch to its announcement moves from a column on the
       touch to a table of this app, so outreach never names announcements.
    3. outreach 0004 then drops the column and forgets the model; 0002 here
       gives the tables this app's names.
    """

    initial = True

    dependencies = [
        ("clinics", "0005_contact_cadence"),
        ("outreach", "0003_revoke_calendar_feeds_of_lost_access"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]
    run_before = [
        ("outreach", "0004_touch_announcement_moves_out"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ServiceAnnouncement",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("subject", models.CharField(max_length=150)),
                        (
                            "message",
                            models.TextField(
                                help_text="What the service is and who it helps. No patient details."
                            ),
                        ),
                        (
                            "taxonomy_codes",
                            models.JSONField(blank=True, default=list, verbose_name="specialties"),
                        ),
                        ("request_key", models.UUIDField(unique=True)),
                        ("recipient_count", models.PositiveIntegerField(default=0)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "offering",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="clinics.serviceoffering",
                            ),
                        ),
                        (
                            "organization",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="clinics.organization",
                            ),
                        ),
                        (
                            "populations",
                            models.ManyToManyField(blank=True, related_name="+", to="clinics.population"),
                        ),
                    ],
                    options={
                        "ordering": ["-created_at"],
                        "db_table": "outreach_serviceannouncement",
                        "indexes": [
                            models.Index(
                                fields=["organization", "-created_at"], name="outreach_announce_org_created"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.CreateModel(
            name="AnnouncementTouch",
            fields=[
                (
                    "id",
                    models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="clinics.organization"
                    ),
                ),
                (
                    "touch",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="outreach.touch"
                    ),
                ),
                (
                    "announcement",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="announcements.serviceannouncement",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["organization", "announcement"], name="announcements_touch_org")],
            },
        ),
        migrations.RunPython(link_touches, unlink_touches),
    ]
