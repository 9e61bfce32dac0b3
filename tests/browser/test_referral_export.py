import csv
import io

import pytest

from clinics.models import Role
from referrals.exports.services import referral_export_run
from referrals.models import ReferralExport, Status
from referrals.tasks import export_referrals

from ..factories import TEST_PASSWORD, MembershipFactory, ReferralFactory

# The live server runs in another thread, so the data must be committed.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_export_page_shows_the_download_once_the_worker_has_written_it(
    page, live_server, summit, monkeypatch, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    # The test plays the worker, so it decides when the file is written.
    queued = []
    monkeypatch.setattr(export_referrals, "delay", queued.append)
    admin = MembershipFactory(organization=summit, role=Role.ADMIN)
    ReferralFactory(organization=summit, status=Status.RECEIVED, patient_last_name="Delgado")
    ReferralFactory(organization=summit, status=Status.LOST, loss_reason="declined")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(admin.user.username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")

    page.goto(f"{live_server.url}/referrals/?status=received")
    page.get_by_role("link", name="Export CSV").click()
    assert page.get_by_text("Status: Received").is_visible()
    assert not page.get_by_role("checkbox").is_checked()
    page.get_by_role("button", name="Export").click()

    progress = page.locator("#export-progress")
    assert "Waiting for the background worker" in progress.inner_text()
    [export_id] = queued
    referral_export_run(export_id=export_id)
    download_link = page.get_by_role("link", name="Download CSV (1 referral)")
    download_link.wait_for(timeout=10_000)  # the page checks every second, without a reload
    with page.expect_download() as download:
        download_link.click()

    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert download.value.suggested_filename.startswith("rapport-referrals-")
    assert [row["Status"] for row in rows] == ["Received"]
    assert "Patient last name" not in rows[0]
    assert ReferralExport.objects.get(pk=export_id).rows_done == 1
    assert page.console_errors == []
