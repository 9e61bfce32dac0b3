"""Benchmark of the NPPES import: rows per second and peak memory, first import and rerun.

Generates an NPPES-format file with bench/make_nppes.py, imports it into
a scratch organization (slug "bench-nppes") of the configured database, imports
it again, then a copy with a fifth of the credentials changed, and deletes the
organization. Each import runs in a child process of its own, so each peak
memory figure is that import's alone.

    DATABASE_URL=postgres://... .venv/bin/python bench/nppes_import.py --rows 200000
"""

import argparse
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SLUG = "bench-nppes"

sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
# With DEBUG on, Django records every query with its parameters, which costs
# more than the import itself; production runs without it.
os.environ.setdefault("DEBUG", "false")

import django  # noqa: E402

django.setup()

from django.db import connection, connections  # noqa: E402
from django.db.migrations.executor import MigrationExecutor  # noqa: E402

from clinics.models import Organization  # noqa: E402
from physicians.models import Affiliation, Physician, Practice  # noqa: E402
from physicians.nppes import nppes_file_import  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def generate(generator: Path, header: Path, out: Path, rows: int, update_of: Path | None = None) -> None:
    command = [sys.executable, str(generator), str(out), "--header-source", str(header)]
    command += ["--rows", str(rows), "--edge"]
    if update_of:
        command += ["--update-of", str(update_of)]
    # The command is built from this script's own arguments, never from outside input.
    subprocess.run(command, check=True)  # noqa: S603


def import_in_child(path: Path, states: list[str], taxonomies: list[str], report) -> None:
    organization = Organization.objects.get(slug=SLUG)
    started = time.perf_counter()
    with path.open("rb") as stream:
        result = nppes_file_import(
            organization=organization, file=stream, states=states, taxonomies=taxonomies
        )
    report.send((time.perf_counter() - started, result, peak_rss_mb()))


def timed_import(path: Path, states: list[str], taxonomies: list[str]):
    # Children must open their own database connections, not share the parent's.
    connections.close_all()
    receiving, sending = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(
        target=import_in_child, args=(path, states, taxonomies, sending)
    )
    child.start()
    sending.close()  # the child's copy stays open: if it dies, recv() sees the end of the pipe
    try:
        outcome = receiving.recv()
    except EOFError:
        outcome = None
    child.join()
    if child.exitcode != 0 or outcome is None:
        sys.exit(f"The import failed (exit code {child.exitcode}); see the traceback above.")
    return outcome


def clean_up() -> None:
    """Deletes the scratch organization; leaf tables first, so the cascade has little to collect."""
    models = (Affiliation, Physician, Practice)
    for model in models:
        model.objects.filter(organization__slug=SLUG).delete()
    Organization.objects.filter(slug=SLUG).delete()
    if connection.vendor == "postgresql":
        # Otherwise autovacuum clears the deleted rows during the next run and slows it.
        with connection.cursor() as cursor:
            for model in models:
                cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000, help="rows to generate (default 200,000)")
    parser.add_argument("--generator", type=Path, default=REPO / "bench" / "make_nppes.py")
    parser.add_argument(
        "--header-source", type=Path, default=REPO / "tests" / "fixtures" / "nppes_sample.csv"
    )
    parser.add_argument("--file", type=Path, help="import this file instead of generating one")
    parser.add_argument("--state", action="append", default=[], dest="states", help="repeatable")
    parser.add_argument("--taxonomy", action="append", default=[], dest="taxonomies", help="repeatable")
    parser.add_argument("--no-update", action="store_true", help="skip the run with changed credentials")
    options = parser.parse_args()

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        sys.exit("The database has unapplied migrations; run `manage.py migrate` first.")
    if Organization.objects.filter(slug=SLUG).exists():
        print(f"Removing the “{SLUG}” organization a previous run left behind…")
        clean_up()
    database = connection.settings_dict
    print(f"Database: {connection.vendor} {database['NAME']}")

    with tempfile.TemporaryDirectory(prefix="bench-nppes-") as folder:
        runs = []
        if options.file:
            runs.append(("first", options.file))
            runs.append(("rerun", options.file))
        else:
            path = Path(folder) / "nppes.csv"
            started = time.perf_counter()
            generate(options.generator, options.header_source, path, options.rows)
            seconds = time.perf_counter() - started
            print(f"Generated {options.rows:,} rows (+ awkward ones) in {seconds:.1f} s")
            runs.append(("first", path))
            runs.append(("rerun", path))
            if not options.no_update:
                changed = Path(folder) / "nppes-changed.csv"
                generate(options.generator, options.header_source, changed, options.rows, update_of=path)
                runs.append(("changed", changed))
        print(f"File: {runs[0][1].stat().st_size / 1e6:,.1f} MB; parent process {peak_rss_mb():.0f} MB")

        Organization.objects.create(name="NPPES benchmark (scratch)", slug=SLUG)
        try:
            print(
                f"{'run':8} {'seconds':>8} {'rows/s':>8} {'created':>9} {'updated':>9} {'unchanged':>9} "
                f"{'skipped':>8} {'invalid':>7} {'practices':>9} {'peak RSS':>9}"
            )
            for label, path in runs:
                seconds, result, peak = timed_import(path, options.states, options.taxonomies)
                print(
                    f"{label:8} {seconds:8.1f} {result.rows_read / seconds:8,.0f} {result.created:9,} "
                    f"{result.updated:9,} {result.unchanged:9,} {result.skipped:8,} {result.invalid:7,} "
                    f"{result.practices_created:9,} {peak:6.0f} MB"
                )
        finally:
            started = time.perf_counter()
            clean_up()
            print(f"Removed the scratch organization in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
