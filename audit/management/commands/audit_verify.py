from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.chain import chain_verify
from clinics.models import Organization


class Command(BaseCommand):
    help = "Recomputes each organization's access-audit chain; reports altered, deleted or inserted events."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", help="Only this organization (its slug).")

    def handle(self, *args: Any, organization: str | None = None, **options: Any) -> None:
        organizations = Organization.objects.order_by("slug")
        if organization:
            organizations = organizations.filter(slug=organization)
            if not organizations.exists():
                raise CommandError(f"No organization {organization!r}.")
        broken = 0
        for each in organizations:
            report = chain_verify(organization=each)
            start = f" from the pruned anchor #{report.anchor_seq}" if report.anchor_seq else ""
            if report.intact:
                self.stdout.write(f"{each.slug}: {report.checked} events verified{start}, chain intact")
            else:
                broken += 1
                self.stdout.write(f"{each.slug}: {report.checked} events checked{start}, CHAIN BROKEN")
                for problem in report.problems:
                    self.stdout.write(f"  {problem}")
        if broken:
            raise CommandError(f"The audit chain is broken in {broken} organization(s).")
