from django.core.management.base import BaseCommand, CommandError

from clinics.models import Organization

from ...rollups import rollups_rebuild, rollups_verify


class Command(BaseCommand):
    help = (
        "Remakes the dashboards' rollups from the referrals, their history, visits, payments, care, letters "
        "and touches "
        "(after an upgrade, a restore or a bulk load); with --verify, only compares them and reports."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--organization", help="The organization's slug (default: every organization).")
        parser.add_argument(
            "--verify", action="store_true", help="Compare the rollups with a recomputation; change nothing."
        )

    def handle(self, *args, **options) -> None:
        organizations = Organization.objects.order_by("slug")
        if options["organization"]:
            organizations = organizations.filter(slug=options["organization"])
            if not organizations.exists():
                raise CommandError(f"No organization with the slug {options['organization']!r}.")
        for organization in organizations:
            if options["verify"]:
                check = rollups_verify(organization=organization, repair=False)
                self.stdout.write(
                    f"{organization.slug}: {check.facts_checked} referrals checked, "
                    f"{check.facts_wrong} facts and {check.touch_cells_wrong} touch-day cells differ"
                )
                if not check.clean:
                    raise CommandError(
                        "The rollups differ from the data: run without --verify to rebuild them."
                    )
            else:
                covered = rollups_rebuild(organization=organization)
                self.stdout.write(f"{organization.slug}: rollups rebuilt for {covered} referrals")
