"""Import of the NPPES Data Dissemination file (the public NPI registry) into a directory.

The national file is about 10 GB, so it is streamed, and the import runs in two
phases so the directory never holds half an import:

1. Read: stream the CSV once, validate every row and write the rows to keep,
   already normalized, to a temporary file. A malformed file stops here, before
   anything is written to the database.
2. Apply: read the temporary file back in batches and upsert physicians,
   practices and affiliations inside one transaction, with a fixed number of
   queries per batch.

Rerunning the same file changes nothing; only the fields that come from NPPES
are ever updated, never what the clinic manages (stage, tier, owner, ...).

One module per layer, each importing only the ones listed before it:
- reading: phase 1, from the file's bytes to normalized rows; no database;
- planner: keeps PostgreSQL's planner on the indexes while the import grows;
- bulk: phase 2, the rows written in batches of hand-written SQL;
- jobs: the import service, and the queued jobs that run it in the worker.

Callers outside the package use the names below.
"""

from .jobs import (
    nppes_file_import,
    nppes_import_enqueue,
    nppes_import_fail,
    nppes_import_run,
    nppes_imports_sweep,
)
from .reading import NppesFileError, NppesImportResult, nppes_filters_clean, readable_address, readable_name

__all__ = [
    "NppesFileError",
    "NppesImportResult",
    "nppes_file_import",
    "nppes_filters_clean",
    "nppes_import_enqueue",
    "nppes_import_fail",
    "nppes_import_run",
    "nppes_imports_sweep",
    "readable_address",
    "readable_name",
]
