import os
import time
from collections.abc import Callable
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from clinics.models import Organization
from physicians.nppes import NppesFileError, NppesImportResult, nppes_file_import, nppes_filters_clean

INVALID_ROWS_SHOWN = 20


class Command(BaseCommand):
    help = (
        "Imports referring physicians and their practices from an NPPES Data Dissemination CSV file "
        "into one organization's directory, now, without the worker. Rerunning the same file changes "
        "nothing; a malformed file imports nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The npidata_pfile CSV, or an extract with its header.")
        parser.add_argument("--organization", required=True, metavar="SLUG", help="The organization's slug.")
        parser.add_argument(
            "--state",
            action="append",
            default=[],
            dest="states",
            metavar="XX",
            help="Keep providers practising in this state (repeatable). Default: every state.",
        )
        parser.add_argument(
            "--taxonomy",
            action="append",
            default=[],
            dest="taxonomies",
            metavar="CODE",
            help="Keep providers whose primary taxonomy is this code, or begins with it, e.g. 207X "
            "(repeatable). Default: the usual referring specialties.",
        )

    def handle(
        self, *args, file: Path, organization: str, states: list[str], taxonomies: list[str], **options
    ):
        verbose = options["verbosity"] >= 1
        try:
            target = Organization.objects.get(slug=organization)
        except Organization.DoesNotExist:
            raise CommandError(f"No organization has the slug “{organization}”.") from None
        try:
            states, taxonomies = nppes_filters_clean(states=states, taxonomies=taxonomies)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        try:
            stream = file.open("rb")
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None

        with stream:
            size = os.fstat(stream.fileno()).st_size
            if verbose:
                self.stdout.write(f"Reading {file} ({size / 1e6:,.1f} MB) for {target.name}…")
            started = time.monotonic()
            try:
                result = nppes_file_import(
                    organization=target,
                    file=stream,
                    states=states,
                    taxonomies=taxonomies,
                    on_progress=self._progress_printer(size) if verbose else None,
                )
            except NppesFileError as error:
                raise CommandError(f"{file}: {error} Nothing was imported.") from None
        if verbose:
            self._summary(result, target, time.monotonic() - started)

    def _progress_printer(self, size: int) -> Callable[[int, int], None]:
        """Prints a line at each tenth of the file read."""
        printed = 0

        def progress(bytes_read: int, rows_read: int) -> None:
            nonlocal printed
            tenths = min(10 * bytes_read // size, 10) if size else 10
            if tenths > printed:
                printed = tenths
                saving = "; saving…" if tenths == 10 else ""
                self.stdout.write(f"  {tenths * 10}% read, {rows_read:,} rows{saving}")

        return progress

    def _summary(self, result: NppesImportResult, organization: Organization, seconds: float) -> None:
        self.stdout.write(self.style.SUCCESS(f"Imported into {organization.name} in {seconds:,.1f} s:"))
        for label, count in [
            ("rows read", result.rows_read),
            ("physicians created", result.created),
            ("physicians updated", result.updated),
            ("physicians unchanged", result.unchanged),
            ("practices created", result.practices_created),
            ("rows skipped (other states or specialties, organizations, deactivated NPIs)", result.skipped),
            ("rows refused", result.invalid),
        ]:
            self.stdout.write(f"  {count:>10,}  {label}")
        if result.invalid_rows:
            self.stdout.write(self.style.WARNING("Refused rows:"))
            for row in result.invalid_rows[:INVALID_ROWS_SHOWN]:
                self.stdout.write(f"  line {row['line']:,}, NPI “{row['npi']}”: {row['reason']}")
            if result.invalid > INVALID_ROWS_SHOWN:
                self.stdout.write(f"  … and {result.invalid - INVALID_ROWS_SHOWN:,} more.")
