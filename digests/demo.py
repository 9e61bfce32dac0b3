"""The demo's weekly digests: every demo therapist, liaison and admin has their preferences from the start.

Nothing is sent while seeding: `manage.py send_digests --due-now` sends this
week's to everyone, and each digest page previews it at any time.
"""

from django.utils import timezone

from .services import digest_preferences_ensure


def seed(stdout=None) -> None:
    made = digest_preferences_ensure(now=timezone.now())
    if stdout is not None:
        stdout.write(f"Weekly digests: {made} people's preferences, Monday at 7:00 on their clock")
