"""The referral export: the confirmation step, the file, the job that writes it, its expiry."""

import csv
import datetime
import html
import io
import logging
import re
from urllib.parse import parse_qs, urlencode

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinics.models import Role
from referrals.exports import services as export_services
from referrals.exports.columns import storage_name
from referrals.exports.services import (
    EXPORT_LEASE,
    EXPORT_LIFETIME,
    referral_export_request,
    referral_export_run,
    referral_exports_sweep,
)
from referrals.models import ExportStatus, LossReason, ReferralExport, SourceType, Status
from referrals.services import FirstAppointment, referral_transition
from referrals.tasks import export_referrals, sweep_exports

from ..factories import (
    ClinicFactory,
    PayerFactory,
    PhysicianFactory,
    PracticeFactory,
    ReferralExportFactory,
    ReferralFactory,
)

PATIENT_HEADERS = [
    "Patient last name",
    "Patient first name",
    "Date of birth",
    "Patient phone",
    "Patient email",
    "Referring patient",
]
NOW = datetime.datetime(2025, 3, 12, 17, 0, tzinfo=datetime.UTC)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.CELERY_TASK_ALWAYS_EAGER = True
    return tmp_path


def export_url(params: dict | None = None) -> str:
    return reverse("referrals:export") + (f"?{urlencode(params)}" if params else "")


def request_export(client, params=None, *, patient_data=False, capture):
    """Asks for an export as the page does and lets the worker (eager) write it; returns the export."""
    with capture(execute=True):
        response = client.post(export_url(params), {"include_patient_data": "on"} if patient_data else {})
    assert response.status_code == 302, response.content.decode()
    export = ReferralExport.objects.order_by("-pk").first()
    assert response.url == reverse("referrals:export_detail", args=[export.pk])
    return export


def download_rows(client, export) -> list[dict]:
    response = client.get(reverse("referrals:export_download", args=[export.pk]))
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")  # the byte-order mark Excel needs to read UTF-8
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def stored_files(media) -> list[str]:
    return sorted(str(path.relative_to(media)) for path in media.rglob("*") if path.is_file())


# ---- The file -----------------------------------------------------------------


def test_the_file_has_no_patient_columns_without_the_confirmation(
    admin_client, summit, media, django_capture_on_commit_callbacks
):
    ReferralFactory(
        organization=summit,
        patient_first_name="Rosa",
        patient_last_name="Delgado",
        patient_email="rosa@example.org",
        diagnosis_codes=["M54.50", "M17.11"],
    )
    ReferralFactory(
        organization=summit,
        source_type=SourceType.PATIENT,
        physician=None,
        source_name="Vera Lindqvist",
    )

    export = request_export(admin_client, capture=django_capture_on_commit_callbacks)
    rows = download_rows(admin_client, export)

    assert export.include_patient_data is False
    assert not set(PATIENT_HEADERS) & set(rows[0])
    content = str(rows)
    for patient_detail in ("Rosa", "Delgado", "rosa@example.org", "1970-05-01", "303-555-0100", "Vera"):
        assert patient_detail not in content
    referred_by_patient = next(row for row in rows if row["Source"] == "Another patient")
    assert referred_by_patient["Referred by"] == ""
    assert {row["Diagnoses"] for row in rows} == {"M54.50; M17.11", ""}


def test_patient_columns_come_with_the_confirmation(
    admin_client, summit, media, django_capture_on_commit_callbacks
):
    referral = ReferralFactory(
        organization=summit,
        patient_first_name="Rosa",
        patient_last_name="Delgado",
        patient_email="r@example.org",
    )

    export = request_export(admin_client, patient_data=True, capture=django_capture_on_commit_callbacks)
    [row] = download_rows(admin_client, export)

    assert export.include_patient_data is True
    assert [row[header] for header in PATIENT_HEADERS] == [
        "Delgado",
        "Rosa",
        "1970-05-01",
        "(303) 555-0100",
        "r@example.org",
        "",
    ]
    assert row["Referral"] == str(referral.number)
    page = admin_client.get(reverse("referrals:export_detail", args=[export.pk])).content.decode()
    assert "This file holds patient data" in page


def test_cells_a_spreadsheet_would_run_are_neutralised(
    admin_client, summit, media, django_capture_on_commit_callbacks
):
    ReferralFactory(
        organization=summit,
        patient_first_name='=HYPERLINK("http://evil.example")',
        patient_last_name="+Cmd",
        patient_phone="-1",
        patient_email="@x.example",
        source_type=SourceType.ATTORNEY,
        physician=None,
        source_name="=SUM(A1:A9)",
    )
    ReferralFactory(organization=summit, patient_first_name="\tTab", patient_last_name="\rReturn")

    export = request_export(admin_client, patient_data=True, capture=django_capture_on_commit_callbacks)
    rows = download_rows(admin_client, export)

    by_source = {row["Source"]: row for row in rows}
    attorney = by_source["Attorney"]
    assert attorney["Patient first name"] == '\'=HYPERLINK("http://evil.example")'
    assert attorney["Patient last name"] == "'+Cmd"
    assert attorney["Patient phone"] == "'-1"
    assert attorney["Patient email"] == "'@x.example"
    assert attorney["Referred by"] == "'=SUM(A1:A9)"
    control = by_source["Physician"]
    assert (control["Patient first name"], control["Patient last name"]) == ("'\tTab", "'\rReturn")


def test_every_column_of_a_referral(
    admin_client, summit, summit_admin, member_factory, media, django_capture_on_commit_callbacks
):
    summit_admin.timezone = "America/New_York"
    summit_admin.save()
    therapist = member_factory(summit, Role.THERAPIST).user
    practice = PracticeFactory(organization=summit, name="Front Range Orthopedics")
    ReferralFactory(
        organization=summit,
        clinic=ClinicFactory(organization=summit, name="Downtown"),
        physician=PhysicianFactory(
            organization=summit, first_name="Grace", last_name="Mbeki", npi="1234567893"
        ),
        referring_practice=practice,
        received_at=datetime.datetime(2025, 3, 3, 14, 5, tzinfo=datetime.UTC),
        payer=PayerFactory(organization=summit, name="Aetna"),
        therapist=therapist,
        status=Status.LOST,
        loss_reason=LossReason.INSURANCE,
        visits_attended=3,
        billed_amount="300.00",
        collected_amount="250.50",
    )

    export = request_export(admin_client, capture=django_capture_on_commit_callbacks)
    [row] = download_rows(admin_client, export)

    assert {key: value for key, value in row.items() if key != "Referral"} == {
        "Received": "2025-03-03 09:05",  # in the admin's zone, as the list showed it
        "Clinic": "Downtown",
        "Status": "Lost",
        "Loss reason": "Insurance not accepted",
        "First appointment": "",
        "Appointment clinic": "",
        "Source": "Physician",
        "Referred by": "Grace Mbeki, MD",
        "Physician NPI": "1234567893",
        "Referring practice": "Front Range Orthopedics",
        "Channel": "Fax",
        "Diagnoses": "",
        "Body region": "",
        "Priority": "Routine",
        "Payer": "Aetna",
        "Therapist": str(therapist),
        "Visits attended": "3",
        "Billed": "300.00",
        "Collected": "250.50",
    }


def test_the_first_appointment_is_on_its_clinics_clock(
    admin_client, summit, summit_admin, summit_front_desk, media, django_capture_on_commit_callbacks
):
    summit_admin.timezone = "America/New_York"
    summit_admin.save()
    denver = ClinicFactory(organization=summit, name="Denver", timezone="America/Denver")
    referral = ReferralFactory(
        organization=summit, clinic=denver, received_at=datetime.datetime(2025, 3, 5, 15, tzinfo=datetime.UTC)
    )
    referral_transition(
        referral=referral,
        user=summit_front_desk.user,
        to_status=Status.SCHEDULED,
        appointment=FirstAppointment(
            starts_at=datetime.datetime(2025, 3, 10, 16, 30, tzinfo=datetime.UTC), clinic=denver
        ),
    )

    export = request_export(admin_client, capture=django_capture_on_commit_callbacks)
    [row] = download_rows(admin_client, export)

    # 10:30 in Denver (daylight time from 9 March), though the admin reads New York time.
    assert (row["First appointment"], row["Appointment clinic"]) == ("2025-03-10 10:30", "Denver")


# ---- The list's filters, reproduced -------------------------------------------


@pytest.fixture
def varied_referrals(summit, member_factory):
    """Referrals that differ in every filter the list offers, some near a day's edge."""
    downtown, uptown = ClinicFactory(organization=summit), ClinicFactory(organization=summit)
    mbeki, okafor = PhysicianFactory(organization=summit), PhysicianFactory(organization=summit)
    ana, ben = member_factory(summit, Role.THERAPIST).user, member_factory(summit, Role.THERAPIST).user
    aetna, cigna = PayerFactory(organization=summit), PayerFactory(organization=summit)
    north, south = PracticeFactory(organization=summit), PracticeFactory(organization=summit)
    liaison = member_factory(summit, Role.LIAISON).user
    mbeki.owner = liaison
    mbeki.save()
    start = datetime.datetime(2025, 3, 6, 8, 30, tzinfo=datetime.UTC)  # 10:30 pm the day before in Honolulu
    statuses = [Status.RECEIVED, Status.CONTACTED, Status.SCHEDULED, Status.LOST]
    for n in range(24):
        lost = statuses[n % 4] == Status.LOST
        attorney = n % 5 == 0
        ReferralFactory(
            organization=summit,
            clinic=[downtown, uptown][n % 2],
            source_type=SourceType.ATTORNEY if attorney else SourceType.PHYSICIAN,
            physician=None if attorney else [mbeki, okafor][n % 3 % 2],
            source_name="Law office" if attorney else "",
            therapist=[ana, ben, None][n % 3],
            payer=[aetna, cigna, None][n % 3],
            referring_practice=[north, south, None][n % 3],
            referring_taxonomy_code=["207X00000X", "207Q00000X"][n % 2],
            status=statuses[n % 4],
            loss_reason=LossReason.DECLINED if lost else "",
            received_at=start + datetime.timedelta(hours=7 * n),
        )
    return {
        "downtown": downtown,
        "uptown": uptown,
        "mbeki": mbeki,
        "ana": ana,
        "cigna": cigna,
        "north": north,
        "liaison": liaison,
    }


FILTER_SETS = {
    "none": lambda objects: {},
    "status": lambda objects: {"status": "contacted"},
    "clinic": lambda objects: {"clinic": objects["uptown"].pk},
    "source": lambda objects: {"source": "attorney"},
    "physician": lambda objects: {"physician": objects["mbeki"].pk},
    "therapist": lambda objects: {"therapist": objects["ana"].pk},
    "payer": lambda objects: {"payer": objects["cigna"].pk},
    # Days in the admin's zone (Honolulu), not the server's (Denver) or UTC.
    "received from": lambda objects: {"received_from": "2025-03-08"},
    "received until": lambda objects: {"received_to": "2025-03-07"},
    "all at once": lambda objects: {
        "status": "received",
        "clinic": objects["downtown"].pk,
        "source": "physician",
        "received_from": "2025-03-06",
        "received_to": "2025-03-11",
    },
    # Where the dashboards' figures lead: attribution, the source's owner, why lost, the organization's days.
    "practice": lambda objects: {"practice": objects["north"].pk},
    "specialty": lambda objects: {"specialty": "207Q00000X"},
    "owner": lambda objects: {"owner": objects["liaison"].pk},
    "loss reason": lambda objects: {"status": "lost", "loss_reason": "declined"},
    # Denver's days (the organization's), whatever the admin's own zone.
    "organization's days": lambda objects: {"received_since": "2025-03-07", "received_until": "2025-03-09"},
    # The status tabs send an empty status with the other filters.
    "empty values": lambda objects: {"status": "", "clinic": objects["downtown"].pk, "payer": ""},
}


@pytest.mark.parametrize("filter_set", FILTER_SETS)
def test_the_export_holds_exactly_what_the_list_shows(
    admin_client, summit_admin, varied_referrals, media, django_capture_on_commit_callbacks, filter_set
):
    summit_admin.timezone = "Pacific/Honolulu"
    summit_admin.save()
    params = FILTER_SETS[filter_set](varied_referrals)
    page = admin_client.get(reverse("referrals:list"), params).context["page"]
    listed = [referral.number for referral in page]

    export = request_export(admin_client, params, capture=django_capture_on_commit_callbacks)
    exported = [int(row["Referral"]) for row in download_rows(admin_client, export)]

    assert exported == listed
    assert 0 < len(listed) <= (24 if filter_set == "none" else 23)
    assert export.rows_done == export.rows_total == len(listed)


def test_the_page_describes_the_filters_and_counts_what_matches(admin_client, summit, varied_referrals):
    params = {"status": "contacted", "clinic": varied_referrals["uptown"].pk, "received_from": "2025-03-06"}

    page = admin_client.get(export_url(params)).content.decode()

    uptown = varied_referrals["uptown"].name
    assert f"Status: Contacted · Clinic: {uptown} · Received from: Mar 6, 2025" in page
    assert "<strong>6 referrals</strong>" in page


def test_filters_that_cannot_be_read_export_nothing(admin_client, summit, media):
    ReferralFactory(organization=summit)

    page = admin_client.get(export_url({"received_from": "someday"})).content.decode()
    response = admin_client.post(export_url({"received_from": "someday"}), {"include_patient_data": "on"})

    assert "These filters cannot be read" in page
    assert "Enter a valid date." in page
    assert response.status_code == 200
    assert not ReferralExport.objects.exists()


def test_the_list_offers_the_export_with_its_filters_to_admins_only(client, summit, member_factory):
    params = {"status": "received", "source": "physician"}
    export_link = f'href="{export_url(params).replace("&", "&amp;")}"'

    for role, offered in [(Role.ADMIN, True), (Role.LIAISON, False), (Role.FRONT_DESK, False)]:
        client.force_login(member_factory(summit, role).user)
        page = client.get(reverse("referrals:list"), params).content.decode()
        assert (export_link in page) is offered, role


# ---- Who may export and download ------------------------------------------------


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.THERAPIST, Role.LIAISON])
def test_only_admins_export_or_download(client, summit, member_factory, media, role):
    export = ReferralExportFactory(organization=summit, status=ExportStatus.READY)
    client.force_login(member_factory(summit, role).user)

    for url in [
        export_url(),
        reverse("referrals:export_detail", args=[export.pk]),
        reverse("referrals:export_download", args=[export.pk]),
    ]:
        assert client.get(url).status_code == 403
    assert client.post(export_url(), {"include_patient_data": "on"}).status_code == 403
    assert ReferralExport.objects.count() == 1


def test_another_organizations_export_is_404(client, summit, harbor_admin, media):
    export = ReferralExportFactory(organization=summit, status=ExportStatus.READY)
    client.force_login(harbor_admin.user)

    assert client.get(reverse("referrals:export_detail", args=[export.pk])).status_code == 404
    assert client.get(reverse("referrals:export_download", args=[export.pk])).status_code == 404


def test_another_admin_of_the_organization_downloads_it_as_a_private_attachment(
    client, summit, member_factory, media, django_capture_on_commit_callbacks
):
    ReferralFactory(organization=summit)
    requester, colleague = member_factory(summit, Role.ADMIN), member_factory(summit, Role.ADMIN)
    client.force_login(requester.user)
    with time_machine.travel(NOW, tick=False):
        export = request_export(client, capture=django_capture_on_commit_callbacks)
    client.force_login(colleague.user)

    response = client.get(reverse("referrals:export_download", args=[export.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="rapport-referrals-2025-03-12-{export.pk}.csv"'
    )
    assert {part.strip() for part in response["Cache-Control"].split(",")} >= {"private", "no-store"}
    assert response["X-Content-Type-Options"] == "nosniff"
    b"".join(response.streaming_content)


def test_the_file_is_kept_in_private_storage_under_the_exports_one_name(
    admin_client, summit, media, django_capture_on_commit_callbacks
):
    ReferralFactory(organization=summit)

    export = request_export(admin_client, capture=django_capture_on_commit_callbacks)

    assert export.file.name == storage_name(organization_id=summit.pk, export_id=export.pk)
    assert stored_files(media) == [export.file.name]


def test_an_export_not_ready_is_not_downloaded(admin_client, summit, media):
    export = ReferralExportFactory(organization=summit, status=ExportStatus.RUNNING)

    response = admin_client.get(reverse("referrals:export_download", args=[export.pk]), follow=True)

    assert response.redirect_chain == [(reverse("referrals:export_detail", args=[export.pk]), 302)]
    assert "This export is not ready to download: writing." in response.content.decode()


# ---- The progress page ----------------------------------------------------------------


def test_the_progress_page_polls_until_the_export_is_finished(admin_client, summit):
    export = ReferralExportFactory(
        organization=summit, status=ExportStatus.RUNNING, rows_done=4000, rows_total=10000
    )
    url = reverse("referrals:export_detail", args=[export.pk])

    page = admin_client.get(url).content.decode()
    fragment = admin_client.get(url, headers={"HX-Request": "true"})

    assert 'hx-trigger="every 1s"' in page
    assert "X-Rapport-Background" in page  # polling does not keep the session alive
    assert "Writing · 4,000 of 10,000 referrals" in page
    assert 'aria-live="polite"' in page
    assert fragment.templates[0].name == "referrals/_export_progress.html"
    ReferralExport.objects.filter(pk=export.pk).update(status=ExportStatus.READY, rows_done=10000)
    finished = admin_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in finished
    assert "Download CSV (10,000 referrals)" in finished


def test_a_failed_or_expired_export_offers_to_export_the_same_filters_again(admin_client, summit):
    failed = ReferralExportFactory(
        organization=summit,
        status=ExportStatus.FAILED,
        error="It broke.",
        filters={"status": "lost", "clinic": 7},
    )

    page = admin_client.get(reverse("referrals:export_detail", args=[failed.pk])).content.decode()

    assert "The export failed.</strong> It broke." in page
    [again] = re.findall(r'href="([^"]*)">Export these referrals again', page)
    path, query = html.unescape(again).split("?")
    assert (path, parse_qs(query)) == (export_url(), {"status": ["lost"], "clinic": ["7"]})


def test_the_export_page_costs_the_same_queries_for_one_or_many_exports(
    admin_client, summit, summit_admin, django_assert_num_queries
):
    ReferralExportFactory(organization=summit, requested_by=summit_admin.user)
    admin_client.get(export_url())  # the session's first request does its own bookkeeping
    with CaptureQueriesContext(connection) as one:
        admin_client.get(export_url())
    ReferralExportFactory.create_batch(30, organization=summit, requested_by=summit_admin.user)

    with django_assert_num_queries(len(one)):
        page = admin_client.get(export_url())

    assert len(page.context["exports"]) == 20


# ---- The job --------------------------------------------------------------------------


def test_the_task_takes_the_exports_id_and_logs_no_patient_data(
    admin_client, summit, media, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    ReferralFactory(organization=summit, patient_first_name="Rosa", patient_last_name="Delgado")
    sent = []
    monkeypatch.setattr(export_referrals, "delay", lambda *args, **kwargs: sent.append((args, kwargs)))

    with caplog.at_level(logging.DEBUG):
        export = request_export(admin_client, patient_data=True, capture=django_capture_on_commit_callbacks)
        referral_export_run(export_id=export.pk)

    assert sent == [((export.pk,), {})]
    assert "Rosa" not in caplog.text
    assert "Delgado" not in caplog.text
    assert "1 rows" in caplog.text


def queued_export(organization, **fields):
    return ReferralExportFactory(organization=organization, **fields)


def test_a_second_run_does_nothing(summit, media):
    ReferralFactory(organization=summit)
    export = queued_export(summit)
    assert referral_export_run(export_id=export.pk).status == ExportStatus.READY
    finished = ReferralExport.objects.get(pk=export.pk)

    with CaptureQueriesContext(connection) as queries:
        assert referral_export_run(export_id=export.pk) is None

    # The claim, which finds no free row, so writes nothing.
    assert [query["sql"].split()[0] for query in queries] == ["SAVEPOINT", "SELECT", "RELEASE"]
    again = ReferralExport.objects.get(pk=export.pk)
    assert (again.status, again.finished_at, again.file.name) == (
        ExportStatus.READY,
        finished.finished_at,
        finished.file.name,
    )
    assert stored_files(media) == [finished.file.name]


def test_a_run_killed_midway_is_redone_once_its_lease_runs_out_into_one_whole_file(summit, media):
    ReferralFactory.create_batch(3, organization=summit)
    with time_machine.travel(NOW, tick=False):
        export = queued_export(
            summit, status=ExportStatus.RUNNING, claim_token="dead", claimed_until=NOW + EXPORT_LEASE
        )
        # What the dead run left: half a file under the export's name.
        name = default_storage.save(
            storage_name(organization_id=summit.pk, export_id=export.pk), ContentFile(b"Refer")
        )

        assert referral_export_run(export_id=export.pk) is None  # its lease still holds

    with time_machine.travel(NOW + EXPORT_LEASE + datetime.timedelta(seconds=1), tick=False):
        export = referral_export_run(export_id=export.pk)

    assert (export.status, export.rows_done, export.file.name) == (ExportStatus.READY, 3, name)
    assert stored_files(media) == [name]
    with export.file.open("rb") as file:
        assert len(list(csv.reader(io.StringIO(file.read().decode("utf-8-sig"))))) == 4


def test_a_run_that_loses_its_claim_publishes_nothing(summit, media, monkeypatch):
    ReferralFactory.create_batch(3, organization=summit)
    export = queued_export(summit)
    monkeypatch.setattr(export_services, "EXPORT_CHUNK_SIZE", 1)
    renew = export_services._renew
    calls = []

    def taken_over_after_the_first_chunk(export, **progress):
        calls.append(progress)
        if len(calls) == 2:
            ReferralExport.objects.filter(pk=export.pk).update(claim_token="another run")
        renew(export, **progress)

    monkeypatch.setattr(export_services, "_renew", taken_over_after_the_first_chunk)

    export = referral_export_run(export_id=export.pk)

    assert (export.status, export.claim_token, export.rows_done) == (ExportStatus.RUNNING, "another run", 0)
    assert stored_files(media) == []


def test_an_error_releases_the_claim_then_the_task_gives_up_and_fails_the_export(summit, media, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(export_services, "referral_export_rows", broken)
    export = queued_export(summit)

    with pytest.raises(RuntimeError):
        referral_export_run(export_id=export.pk)
    export.refresh_from_db()
    assert (export.status, export.claim_token) == (ExportStatus.QUEUED, "")

    outcome = export_referrals.apply(args=[export.pk])

    assert outcome.failed()
    export.refresh_from_db()
    assert export.status == ExportStatus.FAILED
    assert export.error.startswith("The export stopped because of an unexpected error.")
    assert export.finished_at is not None


def test_the_task_is_named_and_acknowledged_late():
    assert export_referrals.name == "referrals.export_referrals"
    assert export_referrals.acks_late is True


def test_a_deleted_export_is_ignored(db):
    assert export_referrals.apply(args=[987654]).successful()


def test_the_job_reads_in_chunks_at_a_fixed_number_of_queries_each(
    summit, member_factory, media, monkeypatch
):
    monkeypatch.setattr(export_services, "EXPORT_CHUNK_SIZE", 5)

    def queries_to_export(count: int) -> int:
        for n in range(count):
            by_attorney = n % 3 == 0
            ReferralFactory(
                organization=summit,
                source_type=SourceType.ATTORNEY if by_attorney else SourceType.PHYSICIAN,
                physician=None if by_attorney else PhysicianFactory(organization=summit),
                referring_practice=PracticeFactory(organization=summit),
                payer=PayerFactory(organization=summit),
                therapist=member_factory(summit, Role.THERAPIST).user,
            )
        # Every column, patient data included: each reads only what the query loaded.
        export = queued_export(summit, include_patient_data=True)
        with CaptureQueriesContext(connection) as queries:
            referral_export_run(export_id=export.pk)
        return len(queries)

    one_chunk = queries_to_export(5)
    four_chunks = queries_to_export(15)  # 20 referrals by now

    # Claim (its savepoint, the free row locked, the update, the release), read the export,
    # count, record the total, the one read of the referrals, the renewal before the file
    # is stored, publish, read back: 11; then one renewal (with the progress) per chunk
    # of 5, however many records each row names.
    assert one_chunk == 11 + 1
    assert four_chunks == 11 + 4


# ---- Expiry and the sweep ---------------------------------------------------------------


def test_the_sweep_deletes_expired_files_and_keeps_the_record(
    summit, media, django_capture_on_commit_callbacks
):
    ReferralFactory(organization=summit)
    with time_machine.travel(NOW, tick=False):
        old = referral_export_run(export_id=queued_export(summit).pk)
    later = NOW + EXPORT_LIFETIME - datetime.timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        recent = referral_export_run(export_id=queued_export(summit).pk)
    assert len(stored_files(media)) == 2

    with time_machine.travel(NOW + EXPORT_LIFETIME + datetime.timedelta(minutes=1), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            sweep = referral_exports_sweep()
        with django_capture_on_commit_callbacks(execute=True):
            again = referral_exports_sweep()

    assert (sweep.expired, again.expired) == (1, 0)
    old.refresh_from_db()
    assert (old.status, old.file.name, old.rows_done) == (ExportStatus.EXPIRED, "", 1)
    assert stored_files(media) == [recent.file.name]


def test_an_export_being_written_is_not_expired_under_its_writer(
    summit, media, django_capture_on_commit_callbacks
):
    with time_machine.travel(NOW, tick=False):
        queued_export(
            summit,
            status=ExportStatus.RUNNING,
            claim_token="alive",
            claimed_until=NOW + EXPORT_LEASE,
            expires_at=NOW - datetime.timedelta(minutes=1),
        )
        assert referral_exports_sweep().expired == 0
    with (
        time_machine.travel(NOW + EXPORT_LEASE, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert referral_exports_sweep() == export_services.ExportSweep(requeued=0, given_up=0, expired=1)


def test_the_sweep_queues_again_what_a_dead_worker_or_broker_left(
    summit, media, django_capture_on_commit_callbacks
):
    ReferralFactory(organization=summit)
    with time_machine.travel(NOW, tick=False):
        never_sent = queued_export(summit)
        dead_worker = queued_export(
            summit, status=ExportStatus.RUNNING, claim_token="dead", claimed_until=NOW + EXPORT_LEASE
        )
    with time_machine.travel(NOW + EXPORT_LEASE + datetime.timedelta(seconds=1), tick=False):
        just_asked = queued_export(summit)
        with django_capture_on_commit_callbacks(execute=True):
            sweep = sweep_exports.apply()

    assert sweep.successful()
    statuses = dict(ReferralExport.objects.values_list("pk", "status"))
    assert statuses == {
        never_sent.pk: ExportStatus.READY,
        dead_worker.pk: ExportStatus.READY,
        just_asked.pk: ExportStatus.QUEUED,  # its own message is on its way
    }
    assert len(stored_files(media)) == 2


def test_the_sweep_is_in_the_beat_schedule(settings):
    assert {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} >= {"referrals.sweep_exports"}


def test_a_request_keeps_the_filters_as_the_list_reads_them(summit, summit_admin, varied_referrals, media):
    export = referral_export_request(
        organization=summit,
        acting=summit_admin,
        filters={
            "clinic": varied_referrals["uptown"],
            "received_from": datetime.date(2025, 3, 6),
            "status": "lost",
        },
        filters_description="…",
        include_patient_data=False,
        time_zone="America/Denver",
    )

    assert export.filters == {
        "clinic": varied_referrals["uptown"].pk,
        "received_from": "2025-03-06",
        "status": "lost",
    }
    assert export.expires_at > timezone.now() + EXPORT_LIFETIME - datetime.timedelta(minutes=1)


def test_only_an_admin_of_the_organization_may_request_one(summit, harbor_admin, member_factory):
    for acting in [member_factory(summit, Role.LIAISON), harbor_admin]:
        with pytest.raises(PermissionDenied):
            referral_export_request(
                organization=summit,
                acting=acting,
                filters={},
                filters_description="All referrals",
                include_patient_data=True,
                time_zone="America/Denver",
            )
    assert not ReferralExport.objects.exists()


def test_an_export_that_stops_its_worker_every_time_is_given_up(
    summit, media, django_capture_on_commit_callbacks
):
    ReferralFactory(organization=summit)
    with time_machine.travel(NOW, tick=False):
        export = queued_export(
            summit,
            status=ExportStatus.RUNNING,
            claim_token="dead",
            claimed_until=NOW,
            attempts=export_services.EXPORT_MAX_ATTEMPTS,
        )
        assert referral_export_run(export_id=export.pk) is None  # no run may claim it again

        with django_capture_on_commit_callbacks(execute=True):
            sweep = referral_exports_sweep()

    assert (sweep.requeued, sweep.given_up) == (0, 1)
    export.refresh_from_db()
    assert (export.status, export.error) == (ExportStatus.FAILED, export_services.GIVEN_UP)
    assert stored_files(media) == []


def test_each_run_that_claims_an_export_counts(summit, media):
    ReferralFactory(organization=summit)
    export = queued_export(summit, attempts=1)

    assert referral_export_run(export_id=export.pk).attempts == 2
