"""The Celery application: worker and beat both start from here.

Configuration lives in Django settings under the CELERY_ prefix, tasks are
discovered in each app's tasks.py, and every task inherits the house retry
policy from RapportTask.
"""

import os

from celery import Celery, Task
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")


class RapportTask(Task):
    """Retries transient infrastructure errors with capped exponential backoff.

    A task that fails for a reason a retry cannot fix (bad data, a bug) fails
    at once; a lost database or broker connection is retried up to five times,
    waiting at most ten minutes between tries.
    """

    autoretry_for = (OperationalError, InterfaceError, BrokerOperationalError, ConnectionError)
    retry_backoff = True
    retry_backoff_max = 600
    retry_jitter = True
    max_retries = 5


app = Celery("rapport", task_cls=RapportTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
