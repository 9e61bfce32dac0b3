"""The organization data export: an admin takes everything the organization holds out, as a ZIP of CSVs.

1. Tables. Each app registers its tables in its `export_tables.py`
   (`registry.register`), or says why a model is left out
   (`registry.exclude`); clinics loads them all when Django starts.
2. Request. An admin asks on the data export page; an `OrganizationExport`
   row records who and when, and the worker is handed its id only.
3. Write. The task claims the row (`jobs.ExportFiles`: a conditional UPDATE,
   a lease renewed after every chunk), streams each table into a ZIP on a
   temporary file (`archive.archive_write`), adds a README describing every
   column, stores the ZIP under the export's one name, then marks it ready.
4. Download and expire. Admins of the organization download it; after
   `services.EXPORT_LIFETIME` the beat sweep deletes the file and marks the
   row expired. The row stays, with its size: the record of who took the
   organization's data out.
"""
