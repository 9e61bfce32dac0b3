"""Every job's statuses name the states the claim and lease work with (clinics/jobs.py)."""

import pytest

from clinics import jobs
from clinics.models import ExportStatus
from physicians.models import ImportStatus


@pytest.mark.parametrize("statuses", [ExportStatus, ImportStatus])
def test_the_job_states_are_named_alike(statuses):
    assert (statuses.QUEUED, statuses.RUNNING, statuses.FAILED) == (jobs.QUEUED, jobs.RUNNING, jobs.FAILED)
