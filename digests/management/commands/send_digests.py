from django.core.management.base import BaseCommand
from django.utils import timezone

from digests.services import digests_make_due, digests_send_due


class Command(BaseCommand):
    help = (
        "Queues the weekly digests that are due, as the beat job does. With --due-now, every digest "
        "that is on is made due first: each person gets this week's digest now, once (running it again "
        "queues none), and their next one comes on their usual day."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--due-now", action="store_true", help="Make every digest that is on due now.")

    def handle(self, *args, due_now: bool = False, **options) -> None:
        now = timezone.now()
        if due_now:
            digests_make_due(now=now)
        queued = digests_send_due(now=now)
        self.stdout.write(f"Queued {queued} weekly digest{'s' if queued != 1 else ''}.")
