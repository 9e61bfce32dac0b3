from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from .sessions import session_start


@receiver(user_logged_in, dispatch_uid="accounts.start_session_clock")
def start_session_clock(sender, request, user, **kwargs) -> None:
    session_start(request.session)
