import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def logged_by_their_maker(apps, schema_editor):
    # Until now the form's "made by" was the only record of who entered a
    # touch; it is the best guess for the rows already there.
    Touch = apps.get_model("outreach", "Touch")
    Touch.objects.filter(logged_by__isnull=True).update(logged_by=models.F("made_by"))


class Migration(migrations.Migration):
    dependencies = [
        ("outreach", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="touch",
            name="logged_by",
            field=models.ForeignKey(
                blank=True,
                help_text="Who logged it in Rapport.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(logged_by_their_maker, migrations.RunPython.noop),
    ]
