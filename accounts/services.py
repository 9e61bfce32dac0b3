from django.contrib.sessions.models import Session
from django.utils import timezone


def session_sweep_expired() -> int:
    """Deletes expired sessions and returns how many were removed."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
