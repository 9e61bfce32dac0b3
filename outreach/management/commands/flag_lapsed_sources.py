from django.core.management.base import BaseCommand, CommandError

from clinics.models import Organization
from outreach.flags import flags_update


class Command(BaseCommand):
    help = "Opens, updates and closes the contact-lapsed and referrals-declining flags now (the daily job)."

    def add_arguments(self, parser):
        parser.add_argument("--organization", metavar="SLUG", help="Only this organization (default: all).")

    def handle(self, *args, organization: str | None = None, **options):
        organizations = Organization.objects.order_by("name")
        if organization:
            organizations = organizations.filter(slug=organization)
            if not organizations:
                raise CommandError(f"No organization with the slug “{organization}”.")
        for each in organizations:
            changes = flags_update(organization=each)
            self.stdout.write(
                f"{each.name}: {changes.opened} opened, {changes.updated} updated, {changes.closed} closed"
            )
