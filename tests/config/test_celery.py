import pytest
from django.conf import settings

from config.celery import RapportTask
from config.celery import app as celery_app

# Importing the task modules runs Celery's Django start-up checks.
pytestmark = pytest.mark.django_db


def test_every_beat_job_names_a_registered_task():
    celery_app.loader.import_default_modules()
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in celery_app.tasks, f"beat job {name} names an unknown task"


def test_tasks_use_json_time_limits_and_the_house_retry_policy():
    conf = celery_app.conf
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.timezone == settings.TIME_ZONE
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit

    celery_app.loader.import_default_modules()
    rapport_tasks = [task for name, task in celery_app.tasks.items() if not name.startswith("celery.")]
    assert rapport_tasks
    for task in rapport_tasks:
        assert isinstance(task, RapportTask)
        assert task.retry_backoff
        assert task.retry_backoff_max <= 600
        assert task.max_retries


@pytest.mark.parametrize("name", ["accounts.sweep_expired_sessions"])
def test_tasks_have_explicit_names(name):
    celery_app.loader.import_default_modules()
    assert name in celery_app.tasks
