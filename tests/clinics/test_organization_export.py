"""The organization data export: every table, nothing of another organization, admins only, written once."""

import csv
import datetime
import io
import zipfile

import pytest
import time_machine
from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinics.exports import services
from clinics.exports.registry import excluded_models, export_tables, register
from clinics.exports.services import (
    EXPORT_LIFETIME,
    FILES,
    organization_export_request,
    organization_export_run,
    organization_exports_sweep,
    storage_name,
)
from clinics.models import ExportStatus, Membership, Organization, OrganizationExport, Role
from clinics.tasks import export_organization, sweep_organization_exports
from referrals.models import ReferralDocument

from ..factories import MembershipFactory, ReferralFactory
from .export_world import fill_every_table

NOW = datetime.datetime(2026, 3, 12, 17, 0, tzinfo=datetime.UTC)
# Column names that would carry a secret or a file's place in storage.
SECRET_HEADERS = {"password", "claim_token", "unsubscribe_token", "access_token", "token_digest", "file"}


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.CELERY_TASK_ALWAYS_EAGER = True
    return tmp_path


def queued_export(organization, **fields) -> OrganizationExport:
    fields.setdefault("expires_at", datetime.datetime.now(datetime.UTC) + EXPORT_LIFETIME)
    return OrganizationExport.objects.create(organization=organization, **fields)


def written(export: OrganizationExport) -> dict[str, list[dict[str, str]]]:
    """The export's ZIP as {member name: rows}; the README as one row holding its text."""
    with export.file.open("rb") as file, zipfile.ZipFile(io.BytesIO(file.read())) as archive:
        members = {}
        for name in archive.namelist():
            text = archive.read(name).decode("utf-8")
            if name.endswith(".csv"):
                assert text.startswith("\ufeff"), f"{name} lacks its byte-order mark"
                members[name] = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
            else:
                members[name] = [{"text": text}]
        return members


def stored_files(root) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


# ---- What is exported ------------------------------------------------------------------------


def tenant_models() -> list[type[models.Model]]:
    """Every model owned by an organization, and the many-to-many tables between such models."""
    owned = [
        model
        for model in apps.get_models()
        if any(field.name == "organization" and field.is_relation for field in model._meta.get_fields())
    ]
    through = [
        field.remote_field.through
        for model in owned
        for field in model._meta.many_to_many
        if field.remote_field.through is not None and field.remote_field.through._meta.auto_created
    ]
    return owned + through


def test_every_tenant_model_is_exported_or_left_out_with_a_reason():
    registered = {table.model for table in export_tables()}
    left_out = {item.model: item.reason for item in excluded_models()}
    forgotten = [model._meta.label for model in tenant_models() if model not in registered | left_out.keys()]
    assert not forgotten, f"Register these in their app's export_tables.py, or exclude them: {forgotten}"
    assert not registered & left_out.keys()
    assert all(reason.strip() for reason in left_out.values())


def test_table_names_are_unique_and_safe_file_names():
    names = [table.name for table in export_tables()]
    assert len(names) == len(set(names))
    assert all(name.replace("_", "").isalnum() and name.islower() for name in names)


def test_no_table_exports_a_secret_or_a_file():
    for table in export_tables():
        headers = {column.header for column in table.columns}
        assert not headers & SECRET_HEADERS, f"{table.name} exports {headers & SECRET_HEADERS}"
        assert not any(column.is_secret for column in table.columns)
        assert not any(isinstance(column.field, models.FileField) for column in table.columns)


def test_the_registry_refuses_a_file_or_a_secret_unless_it_is_excluded():
    with pytest.raises(ValueError, match="file"):
        register(ReferralDocument, name="documents_with_paths", description="Refused.")
    with pytest.raises(ValueError, match="password"):
        register(
            Membership, name="staff_with_passwords", description="Refused.", extra_columns=("user__password",)
        )
    assert "documents_with_paths" not in {table.name for table in export_tables()}


def test_the_zip_holds_every_table_and_a_readme_of_every_column(
    summit, summit_admin, media, django_capture_on_commit_callbacks
):
    fill_every_table(summit)
    with django_capture_on_commit_callbacks(execute=True):
        export, _ = organization_export_request(organization=summit, acting=summit_admin)
    export.refresh_from_db()

    assert export.status == ExportStatus.READY
    members = written(export)
    tables = export_tables()
    assert set(members) == {f"{table.name}.csv" for table in tables} | {"README.md"}
    readme = members["README.md"][0]["text"]
    for table in tables:
        rows = members[f"{table.name}.csv"]
        assert rows, f"{table.name}.csv is empty"
        assert list(rows[0]) == [column.header for column in table.columns]
        assert f"## {table.name}.csv" in readme
        section = readme.split(f"## {table.name}.csv", 1)[1].split("\n## ", 1)[0]
        for column in table.columns:
            assert f"| {column.header} |" in section, f"README lacks {table.name}.{column.header}"
    for item in excluded_models():
        assert f"- {item.label}: " in readme
    # An id says where to look it up: the table of its model, or the table that says who a user is.
    assert "| clinic_id | Clinic (an id: see clinics.csv) |" in readme
    assert "| therapist_id | Therapist (an id: see user_id in staff.csv) |" in readme
    assert (export.tables_done, export.tables_total) == (len(tables), len(tables))
    assert export.rows_done == sum(len(members[f"{table.name}.csv"]) for table in tables)
    assert export.size == default_storage.size(export.file.name) > 0
    assert export.requested_by == summit_admin.user


def test_values_are_written_as_the_readme_says(summit, summit_admin, media):
    fill_every_table(summit, patient_last_name='=HYPERLINK("http://evil")')
    export = organization_export_run(export_id=queued_export(summit, requested_by=summit_admin.user).pk)

    members = written(export)
    referral = members["referrals.csv"][0]
    assert referral["patient_last_name"] == '\'=HYPERLINK("http://evil")'
    assert referral["received_at"].endswith("+00:00")
    assert referral["patient_birth_date"] == "1970-05-01"
    assert referral["diagnosis_codes"] == "[]"
    staff = members["staff.csv"][0]
    assert staff["user_username"] == summit_admin.user.username
    assert staff["is_active"] == "true"
    assert members["service_offering_populations.csv"][0]["population_code"] == "sports"


def test_no_other_organizations_row_is_in_the_export(summit, harbor, summit_admin, media):
    """Both organizations fill every table: Summit's export holds all Summit's rows, none of Harbor's."""
    fill_every_table(summit, patient_last_name="Summitpatient")
    fill_every_table(harbor, patient_last_name="Harborpatient")
    export = organization_export_run(export_id=queued_export(summit, requested_by=summit_admin.user).pk)

    members = written(export)
    harbor_ids = {
        model: {
            str(pk) for pk in model._default_manager.filter(organization=harbor).values_list("pk", flat=True)
        }
        for model in apps.get_models()
        if any(field.name == "organization" for field in model._meta.concrete_fields)
    }
    harbor_ids[Organization] = {str(harbor.pk)}
    # People who work only for Harbor.
    harbor_ids[apps.get_model("accounts", "User")] = {
        str(membership.user_id) for membership in Membership.objects.filter(organization=harbor)
    } - {str(membership.user_id) for membership in Membership.objects.filter(organization=summit)}
    for table in export_tables():
        rows = members[f"{table.name}.csv"]
        assert len(rows) == table.rows(summit).count() > 0, table.name
        for column in table.columns:
            target = column.field.related_model if column.field.is_relation else None
            if column.field.primary_key and not column.field.is_relation:
                target = table.model
            if target is None or "__" in column.lookup:
                continue
            leaked = {row[column.header] for row in rows} & harbor_ids.get(target, set())
            assert not leaked, f"{table.name}.{column.header} holds Harbor's ids {leaked}"
    everything = "".join(str(rows) for rows in members.values())
    assert "Harborpatient" not in everything
    assert "Summitpatient" in everything
    assert harbor.name not in everything


def test_writing_costs_the_same_queries_for_one_row_or_many_per_table(summit, summit_admin, media):
    fill_every_table(summit)
    with CaptureQueriesContext(connection) as one_row:
        organization_export_run(export_id=queued_export(summit, requested_by=summit_admin.user).pk)
    fill_every_table(summit)
    fill_every_table(summit)
    with CaptureQueriesContext(connection) as many_rows:
        export = organization_export_run(export_id=queued_export(summit, requested_by=summit_admin.user).pk)

    assert export.rows_done > 0
    assert len(many_rows) == len(one_row)
    # The claim (its savepoint, the free row locked, the update, the release) and its read,
    # the table count, then per table its one read and one renewal, then the last check,
    # the publication, the requester's name and the final read.
    assert len(one_row) <= 2 * len(export_tables()) + 11


def test_a_large_table_renews_the_claim_after_every_chunk(summit, media, monkeypatch):
    ReferralFactory.create_batch(5, organization=summit)
    with CaptureQueriesContext(connection) as whole_tables:
        organization_export_run(export_id=queued_export(summit).pk)
    monkeypatch.setattr(services, "EXPORT_CHUNK_SIZE", 2)
    with CaptureQueriesContext(connection) as in_chunks:
        export = organization_export_run(export_id=queued_export(summit).pk)

    chunks_done = sum(table.rows(summit).count() // 2 for table in export_tables())
    assert chunks_done >= 2  # five referrals: two full chunks of two
    assert len(in_chunks) - len(whole_tables) == chunks_done
    assert export.status == ExportStatus.READY
    assert len(written(export)["referrals.csv"]) == 5


# ---- Requests, claims and the sweep ----------------------------------------------------------


def test_only_an_admin_of_the_organization_may_request_one(summit, harbor_admin, member_factory):
    for acting in [
        harbor_admin,
        member_factory(summit, Role.LIAISON),
        member_factory(summit, Role.FRONT_DESK),
    ]:
        with pytest.raises(PermissionDenied):
            organization_export_request(organization=summit, acting=acting)
    assert not OrganizationExport.objects.exists()


def test_an_export_under_way_is_returned_instead_of_a_second(
    summit, summit_admin, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(export_organization, "delay", lambda *args: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        first, created = organization_export_request(organization=summit, acting=summit_admin)
    with django_capture_on_commit_callbacks(execute=True):
        again, created_again = organization_export_request(organization=summit, acting=summit_admin)

    assert (created, created_again, again) == (True, False, first)
    assert sent == [(first.pk,)]  # the id only: no data travels through the broker
    assert (first.tables_total, first.expires_at > first.created_at) == (len(export_tables()), True)


def test_a_second_run_does_nothing(summit, media):
    ReferralFactory(organization=summit)
    export = queued_export(summit)
    finished = organization_export_run(export_id=export.pk)
    assert finished.status == ExportStatus.READY

    with CaptureQueriesContext(connection) as queries:
        assert organization_export_run(export_id=export.pk) is None
        assert export_organization.apply(args=[export.pk]).successful()

    # Two claims that find no free row, so write nothing.
    assert [query["sql"].split()[0] for query in queries] == ["SAVEPOINT", "SELECT", "RELEASE"] * 2
    again = OrganizationExport.objects.get(pk=export.pk)
    assert (again.status, again.finished_at, again.file.name, again.attempts) == (
        ExportStatus.READY,
        finished.finished_at,
        finished.file.name,
        1,
    )
    assert stored_files(media) == [finished.file.name]


def test_two_claims_of_one_export_never_both_win(summit):
    export = queued_export(summit)
    assert FILES.claim(export.pk) is not None
    assert FILES.claim(export.pk) is None


def test_a_run_killed_midway_is_redone_once_its_lease_runs_out_into_one_whole_file(summit, media):
    ReferralFactory.create_batch(3, organization=summit)
    with time_machine.travel(NOW, tick=False):
        export = queued_export(
            summit,
            status=ExportStatus.RUNNING,
            claim_token="dead",
            claimed_until=NOW + FILES.lease,
            attempts=1,
        )
        # What the dead run left: half a file under the export's name.
        name = default_storage.save(
            storage_name(organization_id=summit.pk, export_id=export.pk), ContentFile(b"PK")
        )
        assert organization_export_run(export_id=export.pk) is None  # its lease still holds

    with time_machine.travel(NOW + FILES.lease + datetime.timedelta(seconds=1), tick=False):
        export = organization_export_run(export_id=export.pk)

    assert (export.status, export.file.name, export.attempts) == (ExportStatus.READY, name, 2)
    assert stored_files(media) == [name]
    assert len(written(export)["referrals.csv"]) == 3


def test_an_error_releases_the_claim_then_the_task_gives_up_and_fails_the_export(summit, media, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "archive_write", broken)
    export = queued_export(summit)
    with pytest.raises(RuntimeError):
        organization_export_run(export_id=export.pk)
    export.refresh_from_db()
    assert (export.status, export.claim_token) == (ExportStatus.QUEUED, "")

    result = export_organization.apply(args=[export.pk])

    assert result.failed()
    export.refresh_from_db()
    assert export.status == ExportStatus.FAILED
    assert "unexpected error" in export.error
    assert stored_files(media) == []


def test_the_sweep_deletes_expired_files_and_keeps_the_record(
    summit, media, django_capture_on_commit_callbacks
):
    with time_machine.travel(NOW, tick=False):
        old = organization_export_run(export_id=queued_export(summit).pk)
    with time_machine.travel(NOW + EXPORT_LIFETIME - datetime.timedelta(hours=1), tick=False):
        recent = organization_export_run(export_id=queued_export(summit).pk)
    assert len(stored_files(media)) == 2

    with time_machine.travel(NOW + EXPORT_LIFETIME + datetime.timedelta(minutes=1), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            sweep = organization_exports_sweep()
        with django_capture_on_commit_callbacks(execute=True):
            again = organization_exports_sweep()

    assert (sweep.expired, again.expired) == (1, 0)
    old.refresh_from_db()
    assert (old.status, old.file.name) == (ExportStatus.EXPIRED, "")
    assert old.size > 0  # the record keeps what was taken out
    assert stored_files(media) == [recent.file.name]


def test_the_sweep_queues_again_what_a_dead_worker_or_broker_left(
    summit, media, django_capture_on_commit_callbacks
):
    with time_machine.travel(NOW, tick=False):
        never_sent = queued_export(summit)
        dead_worker = queued_export(
            summit,
            status=ExportStatus.RUNNING,
            claim_token="dead",
            claimed_until=NOW + FILES.lease,
            attempts=1,
        )
        given_up = queued_export(
            summit,
            status=ExportStatus.RUNNING,
            claim_token="dead",
            claimed_until=NOW + FILES.lease,
            attempts=services.EXPORT_MAX_ATTEMPTS,
        )
    with time_machine.travel(NOW + FILES.lease + datetime.timedelta(seconds=1), tick=False):
        just_asked = queued_export(summit)
        with django_capture_on_commit_callbacks(execute=True):
            assert sweep_organization_exports.apply().successful()

    statuses = dict(OrganizationExport.objects.values_list("pk", "status"))
    assert statuses == {
        never_sent.pk: ExportStatus.READY,
        dead_worker.pk: ExportStatus.READY,
        given_up.pk: ExportStatus.FAILED,
        just_asked.pk: ExportStatus.QUEUED,  # its own message is on its way
    }
    assert OrganizationExport.objects.get(pk=given_up.pk).error == services.GIVEN_UP


def test_the_tasks_are_named_and_the_sweep_is_in_the_beat_schedule(settings):
    assert export_organization.name == "clinics.export_organization"
    assert export_organization.acks_late
    assert {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} >= {
        "clinics.sweep_organization_exports"
    }


# ---- Pages -----------------------------------------------------------------------------------


def test_the_settings_page_and_the_admin_menu_lead_to_the_export(admin_client):
    settings_page = admin_client.get(reverse("clinics:organization_settings")).content.decode()
    assert reverse("clinics:data_export") in settings_page


def test_an_admin_requests_follows_and_downloads_an_export(
    admin_client, summit, media, django_capture_on_commit_callbacks
):
    fill_every_table(summit)
    page = admin_client.get(reverse("clinics:data_export"))
    assert page.status_code == 200
    assert "referrals.csv" in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("clinics:data_export_request"))

    export = OrganizationExport.objects.filter(organization=summit).first()  # the newest
    assert response.url == reverse("clinics:data_export_detail", args=[export.pk])
    detail = admin_client.get(response.url).content.decode()
    assert "Download ZIP" in detail
    download = admin_client.get(reverse("clinics:data_export_download", args=[export.pk]))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert download["Content-Disposition"].startswith("attachment;")
    assert "rapport-summit-" in download["Content-Disposition"]
    body = b"".join(download.streaming_content)
    assert zipfile.ZipFile(io.BytesIO(body)).read("README.md")


def test_the_progress_page_refreshes_itself_until_the_export_is_finished(admin_client, summit):
    export = queued_export(
        summit, status=ExportStatus.RUNNING, tables_total=40, tables_done=10, rows_done=1234
    )

    page = admin_client.get(reverse("clinics:data_export_detail", args=[export.pk])).content.decode()
    assert "10 of 40 tables, 1,234 rows so far" in page
    assert "25 %" in page
    assert 'hx-trigger="every 2s"' in page
    assert '<meta http-equiv="refresh"' in page  # inside <noscript>: no JavaScript needed
    assert "X-Rapport-Background" in page  # polling does not keep the session alive
    partial = admin_client.get(
        reverse("clinics:data_export_detail", args=[export.pk]), headers={"HX-Request": "true"}
    ).content.decode()
    assert partial.lstrip().startswith('<div id="export-progress"')

    OrganizationExport.objects.filter(pk=export.pk).update(status=ExportStatus.FAILED, error="It broke.")
    page = admin_client.get(reverse("clinics:data_export_detail", args=[export.pk])).content.decode()
    assert "hx-trigger" not in page
    assert 'http-equiv="refresh"' not in page
    assert "It broke." in page


def test_an_export_not_ready_is_not_downloaded(admin_client, summit):
    export = queued_export(summit)
    response = admin_client.get(reverse("clinics:data_export_download", args=[export.pk]))
    assert response.url == reverse("clinics:data_export_detail", args=[export.pk])


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.THERAPIST, Role.LIAISON])
def test_only_admins_see_request_or_download_exports(client, summit, member_factory, media, role):
    export = queued_export(summit, status=ExportStatus.READY)
    client.force_login(member_factory(summit, role).user)

    assert client.get(reverse("clinics:data_export")).status_code == 403
    assert client.post(reverse("clinics:data_export_request")).status_code == 403
    assert client.get(reverse("clinics:data_export_download", args=[export.pk])).status_code == 403
    assert OrganizationExport.objects.count() == 1


def test_another_organizations_export_is_404(client, summit, harbor_admin, media):
    export = organization_export_run(export_id=queued_export(summit).pk)
    client.force_login(harbor_admin.user)

    for name in ["clinics:data_export_detail", "clinics:data_export_download"]:
        assert client.get(reverse(name, args=[export.pk])).status_code == 404
    assert summit.name not in client.get(reverse("clinics:data_export")).content.decode()


def test_the_export_page_costs_the_same_queries_for_one_or_many_exports(
    admin_client, summit, django_assert_num_queries
):
    queued_export(summit, requested_by=MembershipFactory(organization=summit).user)
    with CaptureQueriesContext(connection) as one:
        admin_client.get(reverse("clinics:data_export"))
    for _ in range(5):
        queued_export(summit, requested_by=MembershipFactory(organization=summit).user)
    with CaptureQueriesContext(connection) as many:
        admin_client.get(reverse("clinics:data_export"))
    assert len(many) == len(one)
