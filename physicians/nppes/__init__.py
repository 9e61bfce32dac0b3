"""Import of the NPPES Data Dissemination file (the public NPI registry) into a directory."""

from .reading import (
    NppesFileError,
    NppesImportResult,
    nppes_file_import,
    nppes_filters_clean,
    nppes_import_enqueue,
    nppes_import_fail,
    nppes_import_run,
    readable_address,
    readable_name,
)

__all__ = [
    "NppesFileError",
    "NppesImportResult",
    "nppes_file_import",
    "nppes_filters_clean",
    "nppes_import_enqueue",
    "nppes_import_fail",
    "nppes_import_run",
    "readable_address",
    "readable_name",
]
