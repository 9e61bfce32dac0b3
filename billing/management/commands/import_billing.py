import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.importing import billing_import_claim, billing_import_execute
from billing.mapping import guess_mapping, mapping_problems
from billing.models import BillingImport, ColumnMapping, ImportKind
from billing.reading import ENCODINGS, ReportError, detect_encoding, header_signature, report_header
from clinics.models import Organization
from physicians.models import ImportStatus

OUTCOMES_SHOWN = 20


class Command(BaseCommand):
    help = (
        "Imports a visit (charge) or payment report exported from the clinic's EMR into one organization, "
        "now, without the worker. The columns are mapped as saved for the report's shape on the import "
        "page, else guessed from its headings. Rerunning the same file changes nothing; a file with a "
        "line that cannot be read imports nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The CSV report.")
        parser.add_argument("--organization", required=True, metavar="SLUG", help="The organization's slug.")
        parser.add_argument("--kind", required=True, choices=ImportKind.values)
        parser.add_argument("--encoding", choices=sorted(ENCODINGS), default="", help="Default: detected.")

    def handle(self, *args, file: Path, organization: str, kind: str, encoding: str, **options):
        try:
            target = Organization.objects.get(slug=organization)
        except Organization.DoesNotExist:
            raise CommandError(f"No organization has the slug “{organization}”.") from None
        try:
            stream = file.open("rb")
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        with stream:
            try:
                encoding = encoding or detect_encoding(stream)
                header = report_header(stream, encoding=encoding)
            except ReportError as error:
                raise CommandError(str(error)) from None
            signature = header_signature(header)
            saved = ColumnMapping.objects.filter(
                organization=target, kind=kind, header_signature=signature
            ).first()
            mapping = saved.mapping if saved else guess_mapping(kind, header)
            problems = mapping_problems(kind, mapping, header)
            if problems:
                raise CommandError(
                    f"The columns cannot be mapped from their headings: {' '.join(problems)} "
                    "Import the file once from the import page to confirm its mapping."
                )
            job = BillingImport.objects.create(
                organization=target,
                kind=kind,
                original_name=file.name[:255],
                encoding=encoding,
                header_signature=signature,
                mapping=mapping,
                mapped=True,
                bytes_total=file.stat().st_size,
            )
            started = time.monotonic()
            # Claimed here, run here: should this process stop midway, the sweep
            # hands the job to a worker, which fails it (it has no uploaded file).
            claimed = billing_import_claim(job=job)
            if claimed is None:
                raise CommandError(f"Import #{job.pk} was taken by another run before it could start.")
            job = billing_import_execute(job=claimed, file=stream)
        if job.status == ImportStatus.RUNNING:
            raise CommandError(f"Import #{job.pk} was taken over by another run before it finished.")
        if job.status == ImportStatus.FAILED:
            for outcome in job.outcomes[:OUTCOMES_SHOWN]:
                self.stderr.write(f"line {outcome['line']}: {outcome['reason']}")
            raise CommandError(job.error)
        visits = f" ({job.visits_created_count} new visits)" if job.kind == ImportKind.VISITS else ""
        self.stdout.write(
            f"Import #{job.pk}: {job.rows_read} rows in {time.monotonic() - started:.1f} s: "
            f"{job.created_count} created{visits}, {job.updated_count} updated, "
            f"{job.unchanged_count} unchanged, {job.unmatched_count} listed for review."
        )
