"""The audit pages: search by referral, person, kind and days; a referral's "who has seen this"; the CSV."""

import csv
import io
from datetime import UTC, datetime

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AccessEvent, AccessKind
from audit.services import Access, access_record
from audit.views import REFERRALS_NAMED_PER_EVENT
from clinics.models import Role

from ..factories import ReferralFactory

DAY = datetime(2026, 3, 10, 15, tzinfo=UTC)


def view(organization, user, referral_ids=(), kind=AccessKind.PAGE, at=DAY, path_name="referrals:detail"):
    access_record(
        organization=organization,
        access=Access(
            kind=kind,
            user=user,
            ip_address="203.0.113.4",
            path_name=path_name,
            referral_ids=frozenset(referral_ids),
        ),
        at=at,
    )


def rows(response):
    return [(row.event.path_name, row.person) for row in response.context["rows"]]


@pytest.fixture
def trail(summit, harbor, summit_admin, member_factory):
    desk = member_factory(summit, Role.FRONT_DESK)
    seen = ReferralFactory(organization=summit)
    other = ReferralFactory(organization=summit)
    view(summit, desk.user, [seen.pk], path_name="referrals:detail")
    view(summit, desk.user, [seen.pk, other.pk], path_name="referrals:list", at=DAY.replace(day=12))
    view(summit, summit_admin.user, [other.pk], path_name="letters:detail", at=DAY.replace(day=14))
    view(harbor, None, [seen.pk], kind=AccessKind.PRUNE, path_name="")
    return {"desk": desk, "seen": seen, "other": other}


def search(client, **params):
    return client.get(reverse("audit:search"), params)


def test_search_by_referral_number_lists_who_saw_it(admin_client, trail):
    response = search(admin_client, referral=f"#{trail['seen'].number}")

    assert response.status_code == 200
    names = [row.event.path_name for row in response.context["rows"]]
    assert names == ["referrals:list", "referrals:detail"]


def test_search_by_person_and_days(admin_client, trail):
    response = search(admin_client, user=trail["desk"].user.pk, since="2026-03-11", until="2026-03-12")

    assert [row.event.path_name for row in response.context["rows"]] == ["referrals:list"]
    labels = response.context["rows"][0].referrals.split()
    assert sorted(labels) == sorted([f"#{trail['seen'].number}", f"#{trail['other'].number}"])


def test_a_long_list_names_its_first_referrals_and_counts_the_rest(admin_client, summit, summit_admin):
    referrals = ReferralFactory.create_batch(REFERRALS_NAMED_PER_EVENT + 3, organization=summit)
    view(summit, summit_admin.user, [referral.pk for referral in referrals], path_name="referrals:list")

    response = search(admin_client, kind=AccessKind.PAGE)

    (row,) = response.context["rows"]
    assert len(row.referrals.split()) == REFERRALS_NAMED_PER_EVENT
    assert set(row.referrals.split()) <= {f"#{referral.number}" for referral in referrals}
    assert row.unnamed == 3
    assert "and 3 more" in response.content.decode()


def test_search_by_kind(admin_client, trail):
    response = search(admin_client, kind=AccessKind.PAGE)

    # The search page itself is an access of the trail: recorded after it is built, so not listed yet.
    assert len(response.context["rows"]) == 3


def test_an_unknown_referral_number_is_a_message_not_an_error(admin_client, trail):
    response = search(admin_client, referral="#987654")

    assert response.status_code == 200
    assert "No referral #987654 in your organization." in response.content.decode()


def test_another_organizations_events_never_show(client, login, harbor_admin, trail):
    login(harbor_admin)

    response = search(client, referral=f"#{trail['seen'].number}")

    assert response.context["rows"] == []
    assert response.context["form"].errors


def test_older_events_page_by_keyset(admin_client, summit, summit_admin, monkeypatch):
    from audit import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    for day in (1, 2, 3):
        view(summit, summit_admin.user, at=DAY.replace(day=day))

    first = search(admin_client, kind=AccessKind.PAGE, until="2026-03-05")
    second = search(admin_client, kind=AccessKind.PAGE, until="2026-03-05", before=first.context["older"])

    assert [row.event.at.day for row in first.context["rows"]] == [3, 2]
    assert [row.event.at.day for row in second.context["rows"]] == [1]
    assert second.context["older"] is None


def test_the_search_takes_a_fixed_number_of_queries(admin_client, summit, summit_admin):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert search(admin_client).status_code == 200
        return len(captured.captured_queries)

    referral = ReferralFactory(organization=summit)
    view(summit, summit_admin.user, [referral.pk])
    one = queries()
    referrals = ReferralFactory.create_batch(20, organization=summit)
    for _ in range(30):
        view(summit, summit_admin.user, [r.pk for r in referrals])

    assert queries() == one


def test_the_csv_lists_the_search_safely_and_is_itself_recorded(admin_client, summit, summit_admin, trail):
    trail["desk"].user.first_name = "=HYPERLINK(evil)"
    trail["desk"].user.save()

    response = admin_client.get(reverse("audit:export"), {"referral": trail["seen"].number})
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert lines[0][:4] == ["when", "person", "username", "kind"]
    assert [line[4] for line in lines[1:]] == ["referrals:list", "referrals:detail"]
    assert all(line[1].startswith("'=HYPERLINK") for line in lines[1:])
    last = AccessEvent.objects.filter(organization=summit).order_by("-seq").first()
    assert (last.kind, last.path_name) == (AccessKind.EXPORT, "audit:export")


def test_the_referral_page_shows_who_has_seen_it_to_admins_only(admin_client, client, login, summit, trail):
    page = admin_client.get(reverse("referrals:detail", args=[trail["seen"].pk])).content.decode()

    assert "Who has seen this" in page
    assert f"?referral={trail['seen'].number}" in page
    login(trail["desk"])
    assert (
        "Who has seen this"
        not in client.get(reverse("referrals:detail", args=[trail["seen"].pk])).content.decode()
    )


def test_the_data_is_not_shown_when_its_event_cannot_be_written(admin_client, summit, monkeypatch):
    referral = ReferralFactory(organization=summit)

    def broken(**kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr("audit.recording.access_record", broken)
    admin_client.raise_request_exception = False

    response = admin_client.get(reverse("referrals:detail", args=[referral.pk]))

    assert response.status_code == 500
    assert referral.patient_last_name not in response.content.decode()


def test_the_retention_is_on_the_settings_page(admin_client):
    page = admin_client.get(reverse("clinics:organization_settings")).content.decode()

    assert "Access audit trail" in page
    assert "audit-retention_years" in page


def test_the_menu_leads_admins_to_the_audit(admin_client):
    assert reverse("audit:search") in admin_client.get(reverse("home")).content.decode()
