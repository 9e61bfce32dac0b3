"""Upgrading gives every existing record its starting history row, so its first change is listed."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from physicians.models import Physician

BEFORE = [("clinics", "0009_organization_export")]


def migrate(targets=None):
    executor = MigrationExecutor(connection)
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_records_made_before_history_get_their_starting_row(summit):
    apps = migrate(BEFORE)
    try:
        apps.get_model("physicians", "Physician").objects.create(
            organization_id=summit.pk, first_name="Ada", last_name="Before"
        )
    finally:
        migrate()

    physician = Physician.objects.get(last_name="Before")
    (row,) = Physician.history.filter(id=physician.pk)
    assert (row.history_type, row.organization_id, row.last_name) == ("+", summit.pk, "Before")
    physician.last_name = "After"
    physician.save()
    assert physician.history.count() == 2
