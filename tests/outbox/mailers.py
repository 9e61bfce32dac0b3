"""Mail backends for the outbox's unit tests, configured through MAILERS."""

import time

from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend


class ScriptedBackend(BaseEmailBackend):
    """Delivers to mail.outbox, or fails, as `script` says, one entry per message.

    An entry is None (deliver), an exception (raised), or a callable (called
    during the send, then the message is delivered unless it returns an
    exception to raise). With the script empty every message is delivered.
    """

    script: list = []
    refuse_connections = False
    delay = 0.0

    def open(self):
        if ScriptedBackend.refuse_connections:
            raise ConnectionRefusedError(111, "Connection refused")
        return True

    def send_messages(self, email_messages):
        for message in email_messages:
            message.message()  # the header checks a real backend makes
            step = ScriptedBackend.script.pop(0) if ScriptedBackend.script else None
            if callable(step):
                step = step()
            if isinstance(step, BaseException):
                raise step
            time.sleep(ScriptedBackend.delay)
            mail.outbox.append(message)
        return len(email_messages)
