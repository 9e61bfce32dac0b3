import codecs
import csv
import io

import pytest
from django.urls import reverse

from clinics.models import Role
from physicians.models import Affiliation, Physician, StageChange
from physicians.services import physician_change_stage, physician_merge

from ..factories import AffiliationFactory, PhysicianFactory, PracticeFactory


def test_merge_moves_everything_and_fills_blanks(admin_client, summit, summit_admin):
    shared_practice = PracticeFactory(organization=summit)
    keep = AffiliationFactory(organization=summit, practice=shared_practice, physician__npi="").physician
    duplicate = PhysicianFactory(organization=summit, npi="1234567893", what_matters="Fast reports")
    AffiliationFactory(organization=summit, physician=duplicate, practice=shared_practice)
    AffiliationFactory(organization=summit, physician=duplicate, is_primary=False)
    physician_change_stage(physician=duplicate, user=summit_admin.user, stage="first_impression")

    response = admin_client.post(reverse("physicians:merge", args=[keep.pk]), {"duplicate": duplicate.pk})

    assert response.status_code == 302
    assert not Physician.objects.filter(pk=duplicate.pk).exists()
    keep.refresh_from_db()
    assert (keep.npi, keep.what_matters) == ("1234567893", "Fast reports")
    assert Affiliation.objects.filter(physician=keep).count() == 2
    assert Affiliation.objects.filter(physician=keep, is_primary=True).count() == 1
    assert StageChange.objects.filter(physician=keep).count() == 1


def test_merge_refuses_another_organizations_physician(summit, harbor):
    keep = PhysicianFactory(organization=summit)
    outsider = PhysicianFactory(organization=harbor)

    with pytest.raises(Exception, match="another organization"):
        physician_merge(organization=summit, keep=keep, duplicate=outsider)
    assert Physician.objects.filter(pk=outsider.pk).exists()


def test_merge_page_cannot_reach_another_organizations_physician(admin_client, summit, harbor):
    keep = PhysicianFactory(organization=summit)
    outsider = PhysicianFactory(organization=harbor)

    response = admin_client.post(reverse("physicians:merge", args=[keep.pk]), {"duplicate": outsider.pk})

    assert response.status_code == 200
    assert Physician.objects.filter(pk=outsider.pk).exists()


def test_export_streams_the_filtered_directory_as_safe_csv(client, summit, harbor, member_factory):
    PhysicianFactory(organization=summit, first_name="=cmd|' /C calc'!A0", last_name="Evil")
    PhysicianFactory(organization=summit, first_name="Ada", last_name="Nguyen", stage="maintaining")
    PhysicianFactory(organization=harbor, first_name="Other", last_name="Tenant")
    client.force_login(member_factory(summit, Role.LIAISON).user)

    response = client.get(reverse("physicians:export"))
    body = b"".join(response.streaming_content)
    assert body.startswith(codecs.BOM_UTF8), "Excel reads a CSV without a byte-order mark as Windows-1252"
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))

    assert rows[0][:3] == ["NPI", "Last name", "First name"]
    names = {row[2] for row in rows[1:]}
    assert names == {"'=cmd|' /C calc'!A0", "Ada"}
    assert response["Content-Disposition"].startswith('attachment; filename="rapport-physicians-')

    filtered = client.get(reverse("physicians:export"), {"stage": "maintaining"})
    assert len(list(csv.reader(io.StringIO(b"".join(filtered.streaming_content).decode("utf-8-sig"))))) == 2


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ngu", ["Ada"]),
        ("1234", ["Ada"]),
        ("summit ortho", ["Ada"]),
        ("ng", ["Ada"]),
        ("gu", []),
        ("a", []),
        ("zzz", []),
    ],
)
def test_typeahead_finds_by_name_fragment_npi_or_practice(
    client, summit, harbor, member_factory, query, expected
):
    practice = PracticeFactory(organization=summit, name="Summit Orthopedics")
    AffiliationFactory(
        organization=summit,
        practice=practice,
        physician__first_name="Ada",
        physician__last_name="Nguyen",
        physician__npi="1234567893",
    )
    PhysicianFactory(organization=summit, first_name="Bob", last_name="Smith")
    PhysicianFactory(organization=harbor, first_name="Ada", last_name="Nguyen", npi="1234567893")
    client.force_login(member_factory(summit, Role.FRONT_DESK).user)

    response = client.get(reverse("physicians:search"), {"q": query})

    assert [p.first_name for p in response.context["results"]] == expected
    if expected:
        assert b'role="option"' in response.content
        assert b"Summit Orthopedics" in response.content


def test_typeahead_runs_constant_queries(client, summit, member_factory, django_assert_max_num_queries):
    for _ in range(30):
        AffiliationFactory(organization=summit, physician__last_name="Nguyen")
    client.force_login(member_factory(summit, Role.FRONT_DESK).user)

    # Session and membership (3), names as typed, resemblances, practices, their practices (4).
    with django_assert_max_num_queries(7):
        response = client.get(reverse("physicians:search"), {"q": "nguyen"})

    assert len(response.context["results"]) == 10
