from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from clinics.models import Organization
from referrals.retention.selectors import referrals_past_retention, retention_closed_before
from referrals.retention.services import patient_details_remove
from referrals.selectors import referral_settings_get


class Command(BaseCommand):
    help = (
        "Removes patient details from referrals closed longer ago than each organization's retention "
        "period (what the nightly job does). With --dry-run, lists what would go and changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", metavar="SLUG", help="Only this organization.")
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be removed; remove nothing."
        )

    def handle(self, *args, organization: str | None, dry_run: bool, **options) -> None:
        organizations = Organization.objects.order_by("slug")
        if organization is not None:
            organizations = organizations.filter(slug=organization)
            if not organizations.exists():
                raise CommandError(f"No organization with the slug {organization!r}.")
        now = timezone.now()
        for each in organizations:
            rules = referral_settings_get(organization=each)
            closed_before = retention_closed_before(organization=each, rules=rules, now=now)
            if dry_run:
                # Numbers and dates only: a terminal's scrollback is no place for patient names.
                due = referrals_past_retention(organization=each, rules=rules, now=now)
                numbers = list(due.values_list("number", flat=True))
                self.stdout.write(
                    f"{each.slug}: {len(numbers)} referrals closed before {closed_before:%Y-%m-%d} "
                    "would lose their patient details"
                    + (f": #{', #'.join(map(str, numbers))}" if numbers else "")
                )
                continue
            runs = patient_details_remove(organization=each, now=now)
            removed = sum(run.referral_count for run in runs)
            self.stdout.write(
                f"{each.slug}: removed the patient details of {removed} referrals "
                f"closed before {closed_before:%Y-%m-%d}"
            )
