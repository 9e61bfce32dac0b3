"""Upgrading gives every existing record its starting history row, so its first change is listed."""

from django.db.migrations.loader import MigrationLoader

from physicians.models import Physician

BEFORE = [("clinics", "0009_organization_export")]
# The physicians app's latest migration, whichever it is: there its tables are today's, so today's
# model can change the record and its history.
AFTER = MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes("physicians")


def test_records_made_before_history_get_their_starting_row(scratch_database):
    apps = scratch_database.migrate_to(BEFORE)
    summit = apps.get_model("clinics", "Organization").objects.create(name="Summit", slug="summit")
    apps.get_model("physicians", "Physician").objects.create(
        organization_id=summit.pk, first_name="Ada", last_name="Before"
    )

    scratch_database.migrate_to(AFTER)

    physician = Physician.objects.get(last_name="Before")
    (row,) = Physician.history.filter(id=physician.pk)
    assert (row.history_type, row.organization_id, row.last_name) == ("+", summit.pk, "Before")
    physician.last_name = "After"
    physician.save()
    assert physician.history.count() == 2
