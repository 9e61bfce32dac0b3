"""The referral export: an admin downloads the filtered referral list as a CSV file.

1. Request. The export page parses the list's filters with the list's own
   form (`ReferralFilterForm`), shows how many referrals match, and asks
   whether the file may hold patient data (unticked: no patient columns). A
   `ReferralExport` row keeps the filters as ids and ISO dates, the zone the
   list was read in and the answer; the worker is handed the row's id only.
2. Write. The task claims the row with a conditional UPDATE (a token and a
   short lease), runs the list's own query (`selectors.referral_list`) in
   that zone, and streams it in chunks into an anonymous temporary file,
   renewing the lease and saving progress after each chunk. A second run
   finds the row claimed and does nothing; a run killed midway leaves its
   lease to run out, and the next run starts the file again.
3. Publish. The complete file is copied into private storage under the
   export's one name (a rerun replaces it, never adds one) and only then is
   the row marked ready, still under the claim: nobody is offered a file
   before it is whole.
4. Download and expire. Admins of the organization download it as an
   attachment; after EXPORT_LIFETIME the beat sweep deletes the file and
   marks the row expired. The row stays: it records who exported which
   referrals, when, and whether with patient data.

The claim, lease, publication and sweep are `clinics.exports.jobs.ExportFiles`,
shared with the organization data export; this package says what is written.
"""
