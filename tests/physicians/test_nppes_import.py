"""Importing the NPPES Data Dissemination file: the service, the command and the task.

Files are written per test from the real 330-column header, so each test shows
the rows it is about; one test imports the whole sample (tests/fixtures/nppes_sample.csv).
"""

import csv
import io
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from physicians.identifiers import npi_check_digit
from physicians.management.commands.import_nppes import Command
from physicians.models import (
    Affiliation,
    ImportStatus,
    NppesImport,
    Physician,
    Practice,
    Stage,
    Tier,
    UpdateChannel,
    location_key,
    search_key,
)
from physicians.nppes import (
    NppesFileError,
    bulk,
    nppes_file_import,
    nppes_import_enqueue,
    nppes_import_run,
    readable_address,
    readable_name,
    reading,
)
from physicians.tasks import import_nppes_file

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "nppes_sample.csv"


def read_header() -> list[str]:
    with SAMPLE.open(newline="", encoding="utf-8") as sample:
        return next(csv.reader(sample))


HEADER = read_header()


def valid_npi(number: int) -> str:
    first_nine = f"1{number:08d}"
    return first_nine + str(npi_check_digit(first_nine))


def person(
    npi: str,
    *,
    last="SMITH",
    first="JOHN",
    middle="",
    prefix="DR.",
    credential="M.D.",
    taxonomy="207X00000X",
    line1="1550 LARIMER ST",
    line2="",
    city="DENVER",
    state="CO",
    postal_code="802021234",
    phone="3035550100",
    fax="3035550199",
    entity_type="1",
    **columns: str,
) -> dict[str, str]:
    """One NPPES row; `columns` sets other columns by their real names."""
    row = dict.fromkeys(HEADER, "")
    row.update(
        {
            "NPI": npi,
            "Entity Type Code": entity_type,
            "Provider Last Name (Legal Name)": last,
            "Provider First Name": first,
            "Provider Middle Name": middle,
            "Provider Name Prefix Text": prefix,
            "Provider Credential Text": credential,
            "Provider First Line Business Practice Location Address": line1,
            "Provider Second Line Business Practice Location Address": line2,
            "Provider Business Practice Location Address City Name": city,
            "Provider Business Practice Location Address State Name": state,
            "Provider Business Practice Location Address Postal Code": postal_code,
            "Provider Business Practice Location Address Telephone Number": phone,
            "Provider Business Practice Location Address Fax Number": fax,
            "Healthcare Provider Taxonomy Code_1": taxonomy,
            "Healthcare Provider Primary Taxonomy Switch_1": "Y",
        }
    )
    assert set(columns) <= set(HEADER), set(columns) - set(HEADER)
    row.update(columns)
    return row


def nppes_csv(rows: list[dict[str, str]], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def run_import(organization, content: bytes, **filters):
    return nppes_file_import(organization=organization, file=io.BytesIO(content), **filters)


def imported_npis(organization) -> set[str]:
    return set(Physician.objects.filter(organization=organization).values_list("npi", flat=True))


def directory_snapshot(organization) -> dict:
    """Every column of every row the import writes, updated_at included."""
    return {
        model.__name__: sorted(model.objects.filter(organization=organization).values_list())
        for model in (Physician, Practice, Affiliation)
    }


# ---- Rows and fields ----------------------------------------------------------


def test_imports_individuals_with_readable_names_and_the_primary_taxonomy(summit):
    npis = [valid_npi(n) for n in range(1, 5)]
    content = nppes_csv(
        [
            person(npis[0], last="O'BRIEN-NÚÑEZ", first="JOSÉ", middle="MARIE", credential="M.D."),
            person(npis[1], last="MCDONALD", first="ANN", prefix="", credential=""),
            person(
                npis[2],
                last="LEE",
                taxonomy="207V00000X",
                **{
                    "Healthcare Provider Primary Taxonomy Switch_1": "N",
                    "Healthcare Provider Taxonomy Code_2": "363L00000X",
                    "Healthcare Provider Primary Taxonomy Switch_2": "N",
                    "Healthcare Provider Taxonomy Code_3": "207XS0117X",
                    "Healthcare Provider Primary Taxonomy Switch_3": "Y",
                },
            ),
            # Without any "Y", the first slot is the primary one.
            person(npis[3], last="PARK", **{"Healthcare Provider Primary Taxonomy Switch_1": "N"}),
        ]
    )

    result = run_import(summit, content)

    assert (result.rows_read, result.created, result.invalid, result.skipped) == (4, 4, 0, 0)
    jose = Physician.objects.get(organization=summit, npi=npis[0])
    assert (jose.prefix, jose.first_name, jose.middle_name, jose.last_name) == (
        "Dr.",
        "José",
        "Marie",
        "O'Brien-Núñez",
    )
    assert jose.credential == "M.D."
    assert jose.taxonomy_code == "207X00000X"
    assert str(jose.phone) == "+13035550100"  # NPPES's 10 digits, stored in E.164
    assert (jose.stage, jose.tier, jose.is_active) == (Stage.PROSPECT, Tier.C, True)
    # bulk inserts skip save(); the import must have computed search_text as save() does.
    assert jose.search_text == "jose marie obrien nunez"
    saved = Physician.objects.get(pk=jose.pk)
    saved.save()
    assert saved.search_text == jose.search_text
    mcdonald = Physician.objects.get(organization=summit, npi=npis[1])
    assert (mcdonald.first_name, mcdonald.last_name, mcdonald.credential) == ("Ann", "McDonald", "")
    assert Physician.objects.get(organization=summit, npi=npis[2]).taxonomy_code == "207XS0117X"
    assert Physician.objects.get(organization=summit, npi=npis[3]).taxonomy_code == "207X00000X"


@pytest.mark.parametrize(
    ("given", "readable"),
    [
        ("O'BRIEN-NÚÑEZ", "O'Brien-Núñez"),
        ("JOSÉ", "José"),
        ("MCDONALD", "McDonald"),
        ("DR.", "Dr."),
        ("VAN DER BERG", "Van Der Berg"),
        ("de la Cruz", "de la Cruz"),  # typed in mixed case on purpose: kept
    ],
)
def test_readable_names(given, readable):
    assert readable_name(given) == readable


@pytest.mark.parametrize(
    ("given", "readable"),
    [
        ("1550 LARIMER ST", "1550 Larimer St"),
        ("200 W 3RD AVE NE", "200 W 3rd Ave NE"),
        ('1200 "THE CROSSINGS", BLDG 2', '1200 "The Crossings", Bldg 2'),
        ("ST. JOHN'S PLAZA", "St. John's Plaza"),
        ("PO BOX 12", "PO Box 12"),
    ],
)
def test_readable_addresses(given, readable):
    assert readable_address(given) == readable


@pytest.mark.parametrize(
    "parts",
    [
        ("1550 Larimer St", "Suite 200", "80202"),
        ('1200 "The Crossings", Bldg 2', "", "80250"),
        ("José", "Marie", "O'Brien-Núñez", "M.D."),
        ("Ｆｕｌｌ", "ﬁ", "Ångström"),
        ("", "Only", ""),
    ],
)
def test_fast_address_keys_equal_the_models_own(parts):
    assert reading._address_key(*parts) == search_key(*parts)
    assert reading._location_key(*parts[:3]) == location_key(*parts[:3])


def test_one_practice_per_address_shared_by_its_physicians(summit):
    first, second, elsewhere = valid_npi(1), valid_npi(2), valid_npi(3)
    content = nppes_csv(
        [
            person(first, line2="SUITE 200", postal_code="802021234"),
            # Same street, suite and 5-digit ZIP: the same practice.
            person(second, line2="SUITE 200", postal_code="80202"),
            person(elsewhere, line1="3000 SPEER BLVD", city="DENVER", postal_code="80211", fax=""),
        ]
    )

    result = run_import(summit, content)

    assert result.practices_created == 2
    practice = Practice.objects.get(organization=summit, address_line1="1550 Larimer St")
    assert practice.name == "1550 Larimer St, Suite 200, Denver"
    assert (practice.address_line2, practice.city, practice.state, practice.postal_code) == (
        "Suite 200",
        "Denver",
        "CO",
        "802021234",
    )
    assert (str(practice.phone), str(practice.fax)) == ("+13035550100", "+13035550199")
    assert set(practice.physicians.values_list("npi", flat=True)) == {first, second}
    assert Affiliation.objects.filter(practice=practice, is_primary=True).count() == 2
    speer = Practice.objects.get(organization=summit, address_line1="3000 Speer Blvd")
    assert speer.name == "3000 Speer Blvd, Denver"
    # save() would compute the same keys the import set without it.
    for imported in (practice, speer):
        keys = (imported.location_key, imported.search_text)
        imported.save()
        assert (imported.location_key, imported.search_text) == keys
    physician = Physician.objects.get(organization=summit, npi=first)
    search_text = physician.search_text
    physician.save()
    assert physician.search_text == search_text


def test_an_existing_practice_at_the_address_is_reused_not_renamed(summit):
    practice = Practice.objects.create(
        organization=summit,
        name="Front Range Orthopedics",
        address_line1="1550 Larimer St",
        postal_code="80202",
    )

    result = run_import(summit, nppes_csv([person(valid_npi(1))]))

    assert result.practices_created == 0
    assert Practice.objects.filter(organization=summit).get() == practice
    practice.refresh_from_db()
    assert practice.name == "Front Range Orthopedics"
    assert Affiliation.objects.get(organization=summit).practice == practice


def test_bad_rows_are_refused_with_their_reasons_and_the_rest_imported(summit):
    good = valid_npi(1)
    content = nppes_csv(
        [
            person(good),
            person("1234567890"),
            person("8554084011"),
            person("12345"),
            person("12345ABCDE"),
            person(valid_npi(2), last=""),
        ]
    )

    result = run_import(summit, content)

    assert (result.rows_read, result.created, result.invalid) == (6, 1, 5)
    assert [(row["line"], row["npi"]) for row in result.invalid_rows] == [
        (3, "1234567890"),
        (4, "8554084011"),
        (5, "12345"),
        (6, "12345ABCDE"),
        (7, valid_npi(2)),
    ]
    reasons = [row["reason"] for row in result.invalid_rows]
    assert "check digit is wrong" in reasons[0]
    assert "starts with 1 or 2" in reasons[1]
    assert "exactly 10 digits" in reasons[2]
    assert "exactly 10 digits" in reasons[3]
    assert reasons[4] == "The row has no last name."
    assert imported_npis(summit) == {good}


@pytest.mark.parametrize("batch_size", [2, 100], ids=["across-batches", "within-a-batch"])
def test_a_repeated_npi_takes_its_last_row(summit, monkeypatch, batch_size):
    monkeypatch.setattr(bulk, "BATCH_SIZE", batch_size)
    npi = valid_npi(1)

    result = run_import(
        summit, nppes_csv([person(npi), person(valid_npi(2)), person(npi, last="SMITH-JONES")])
    )

    assert Physician.objects.get(organization=summit, npi=npi).last_name == "Smith-Jones"
    assert Physician.objects.filter(organization=summit).count() == 2
    assert result.rows_read == result.created + result.updated + result.skipped == 3


def test_only_the_first_refused_rows_are_kept_but_all_are_counted(summit, monkeypatch):
    monkeypatch.setattr(reading, "INVALID_ROWS_KEPT", 2)

    result = run_import(summit, nppes_csv([person("1234567890") for _ in range(5)]))

    assert result.invalid == 5
    assert len(result.invalid_rows) == 2


# ---- Filters ------------------------------------------------------------------


@pytest.fixture
def mixed_file() -> bytes:
    return nppes_csv(
        [
            person(valid_npi(1), state="CO", taxonomy="207X00000X"),
            person(valid_npi(2), state="UT", taxonomy="207XS0106X", city="PROVO", postal_code="84601"),
            person(valid_npi(3), state="WY", taxonomy="207Q00000X", city="CHEYENNE", postal_code="82001"),
            # A physical therapist: a colleague, not a referrer.
            person(valid_npi(4), state="CO", taxonomy="225100000X", credential="PT"),
            person(valid_npi(5), state="CO", taxonomy="363L00000X", credential="NP"),
        ]
    )


def test_without_filters_every_state_and_the_usual_referrers_are_kept(summit, mixed_file):
    result = run_import(summit, mixed_file)

    assert (result.created, result.skipped) == (4, 1)
    assert valid_npi(4) not in imported_npis(summit)


def test_state_filter(summit, mixed_file):
    result = run_import(summit, mixed_file, states=["co", "wy"])

    assert imported_npis(summit) == {valid_npi(1), valid_npi(3), valid_npi(5)}
    assert result.skipped == 2


def test_taxonomy_filter_exact_and_by_prefix(summit, harbor, mixed_file):
    run_import(summit, mixed_file, taxonomies=["207Q00000X", "207X"])
    run_import(harbor, mixed_file, taxonomies=["2251"])

    assert imported_npis(summit) == {valid_npi(1), valid_npi(2), valid_npi(3)}
    assert imported_npis(harbor) == {valid_npi(4)}


@pytest.mark.parametrize(
    ("states", "taxonomies", "message"),
    [(["Colorado"], [], "two-letter state codes"), ([], ["207X-0000"], "up to 10 letters and digits")],
)
def test_filters_are_validated(summit, mixed_file, states, taxonomies, message):
    with pytest.raises(ValidationError, match=message):
        run_import(summit, mixed_file, states=states, taxonomies=taxonomies)


def test_organizations_and_deactivated_npis_are_skipped(summit):
    deactivated = "NPI Deactivation Date"
    reactivated = "NPI Reactivation Date"
    content = nppes_csv(
        [
            person(
                valid_npi(1),
                entity_type="2",
                last="",
                first="",
                **{"Provider Organization Name (Legal Business Name)": "FRONT RANGE ORTHOPEDICS, P.C."},
            ),
            person(valid_npi(2), **{deactivated: "03/15/2023"}),
            person(valid_npi(3), **{deactivated: "03/15/2023", reactivated: "03/15/2023"}),
            person(valid_npi(4), **{deactivated: "03/15/2023", reactivated: "01/02/2024"}),
            person("", entity_type=""),
        ]
    )

    result = run_import(summit, content)

    assert (result.rows_read, result.skipped, result.invalid) == (5, 4, 0)
    assert imported_npis(summit) == {valid_npi(4)}


# ---- Reruns -------------------------------------------------------------------


def test_rerunning_the_same_file_changes_nothing(summit):
    content = nppes_csv([person(valid_npi(n), line2=f"SUITE {n % 3}") for n in range(1, 11)])
    first = run_import(summit, content)
    before = directory_snapshot(summit)

    again = run_import(summit, content)

    assert directory_snapshot(summit) == before
    assert (again.created, again.updated, again.unchanged, again.practices_created) == (
        0,
        0,
        first.created,
        0,
    )
    assert first.created == 10
    assert first.practices_created == 3


def test_a_changed_file_updates_nppes_fields_only(summit, summit_admin):
    npi, other = valid_npi(1), valid_npi(2)
    run_import(summit, nppes_csv([person(npi), person(other)]))
    physician = Physician.objects.get(organization=summit, npi=npi)
    physician.stage = Stage.BUILDING_TRUST
    physician.tier = Tier.A
    physician.owner = summit_admin.user
    physician.what_matters = "Hears back after every evaluation."
    physician.update_channel = UpdateChannel.EMAIL
    physician.email = "smith@example.com"
    physician.is_active = False
    physician.save()
    untouched = Physician.objects.get(organization=summit, npi=other).updated_at

    result = run_import(
        summit,
        nppes_csv(
            [person(npi, last="SMITH-JONES", credential="M.D., FACS", phone="7205550100"), person(other)]
        ),
    )

    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    updated = Physician.objects.get(pk=physician.pk)
    assert (updated.last_name, updated.credential, str(updated.phone)) == (
        "Smith-Jones",
        "M.D., FACS",
        "+17205550100",
    )
    assert updated.search_text == "john smith jones"
    assert updated.updated_at > physician.updated_at
    assert (updated.stage, updated.tier, updated.owner, updated.what_matters) == (
        Stage.BUILDING_TRUST,
        Tier.A,
        summit_admin.user,
        "Hears back after every evaluation.",
    )
    assert (updated.update_channel, updated.email, updated.is_active) == (
        UpdateChannel.EMAIL,
        "smith@example.com",
        False,
    )
    assert Physician.objects.get(organization=summit, npi=other).updated_at == untouched


def test_a_physician_entered_by_hand_is_matched_by_npi_and_keeps_their_primary_practice(summit):
    npi = valid_npi(1)
    own_practice = Practice.objects.create(organization=summit, name="Lowry Sports Medicine")
    physician = Physician.objects.create(organization=summit, npi=npi, first_name="John", last_name="Smith")
    Affiliation.objects.create(
        organization=summit, physician=physician, practice=own_practice, is_primary=True
    )

    result = run_import(summit, nppes_csv([person(npi)]))

    assert (result.created, result.updated) == (0, 1)  # the prefix, credential and more come from NPPES
    assert Physician.objects.filter(organization=summit).count() == 1
    affiliations = dict(
        Affiliation.objects.filter(physician=physician).values_list("practice__name", "is_primary")
    )
    assert affiliations == {"Lowry Sports Medicine": True, "1550 Larimer St, Denver": False}


# ---- Malformed files ----------------------------------------------------------


def without_deactivation(row: dict) -> dict:
    return {name: value for name, value in row.items() if name != "NPI Deactivation Date"}


def truncated(content: bytes) -> bytes:
    """The file cut short after the 21st column of its last row, as by an interrupted download."""
    *lines, last = content.splitlines(keepends=True)
    return b"".join(lines) + b'","'.join(last.split(b'","')[:21]) + b'"\n'


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda rows: truncated(nppes_csv(rows)), "Line 4 has 21 columns; the NPPES header has 330."),
        (
            lambda rows: nppes_csv(rows) + b'"1003000126","1"\n',
            "Line 5 has 2 columns; the NPPES header has 330. Is this the NPPES Data Dissemination file?",
        ),
        (
            lambda rows: nppes_csv(
                [without_deactivation(row) for row in rows], list(without_deactivation(dict.fromkeys(HEADER)))
            ),
            "The file has no column “NPI Deactivation Date”. Is this the NPPES Data Dissemination file?",
        ),
        (
            lambda rows: b"Name,Phone\nSmith,555\n",
            "The file has no column “NPI”, “Entity Type Code”, “Provider Business Practice Location Address "
            "State Name” and 43 more.",
        ),
        (
            lambda rows: nppes_csv(rows).replace("NÚÑEZ".encode(), "NÚÑEZ".encode("latin-1")),
            "Line 3 is not UTF-8 text.",
        ),
        (lambda rows: nppes_csv(rows) + b'"1003000126","1","unfinished\n', "Line 5 is not valid CSV"),
        (lambda rows: nppes_csv(rows).replace(b"DENVER", b"DEN\x00VER", 1), "Line 2 holds a NUL byte"),
        (lambda rows: b"", "The file is empty."),
    ],
    ids=["truncated", "short-row", "missing-column", "other-csv", "latin-1", "open-quote", "nul", "empty"],
)
def test_a_malformed_file_imports_nothing_and_says_why(summit, make, message):
    rows = [person(valid_npi(1)), person(valid_npi(2), last="NÚÑEZ"), person(valid_npi(3))]

    with pytest.raises(NppesFileError) as raised:
        run_import(summit, make(rows))

    assert message in str(raised.value)
    assert not Physician.objects.exists()
    assert not Practice.objects.exists()


def test_a_file_with_a_byte_order_mark_is_read(summit):
    result = run_import(summit, b"\xef\xbb\xbf" + nppes_csv([person(valid_npi(1))]))

    assert result.created == 1


# ---- Tenancy and query counts -------------------------------------------------


def test_importing_into_one_organization_leaves_the_other_alone(summit, harbor):
    content = nppes_csv([person(valid_npi(1)), person(valid_npi(2))])

    run_import(summit, content)

    assert not Physician.objects.filter(organization=harbor).exists()
    assert not Practice.objects.filter(organization=harbor).exists()

    result = run_import(harbor, content)

    assert result.created == 2
    assert result.practices_created == 1
    for organization in (summit, harbor):
        assert imported_npis(organization) == {valid_npi(1), valid_npi(2)}
        practice = Practice.objects.get(organization=organization)
        assert set(Affiliation.objects.filter(practice=practice).values_list("organization", flat=True)) == {
            organization.pk
        }
        assert set(
            Affiliation.objects.filter(practice=practice).values_list("physician__organization", flat=True)
        ) == {organization.pk}


def import_queries(organization, count: int, start: int) -> int:
    content = nppes_csv(
        [person(valid_npi(start + n), line1=f"{n} MAIN ST", postal_code="80202") for n in range(count)]
    )
    with CaptureQueriesContext(connection) as queries:
        result = run_import(organization, content)
    assert result.created == count
    return len(queries)


def test_queries_do_not_grow_with_the_rows(summit, harbor):
    few = import_queries(summit, 50, start=1)
    many = import_queries(harbor, 500, start=1)

    assert many == few
    assert many <= 12


def test_queries_grow_with_batches_not_rows(summit, harbor, monkeypatch):
    monkeypatch.setattr(bulk, "BATCH_SIZE", 100)
    one_batch = import_queries(summit, 100, start=1)
    five_batches = import_queries(harbor, 500, start=1)

    assert five_batches <= 5 * one_batch


# ---- The shared sample, end to end --------------------------------------------


def test_the_shared_sample_file(summit):
    result = nppes_file_import(organization=summit, file=SAMPLE.open("rb"))

    # 39 rows: 3 physical therapists, a deactivated NPI, an organization and an
    # empty row skipped; 3 bad NPIs refused.
    assert (result.rows_read, result.created, result.skipped, result.invalid) == (39, 30, 6, 3)
    assert {row["npi"] for row in result.invalid_rows} == {"1234567890", "8554084011", "12345"}
    jose = Physician.objects.get(organization=summit, last_name="O'Brien-Núñez")
    assert jose.first_name == "José"
    assert jose.practices.get().address_line1 == '1200 "The Crossings", Bldg 2'
    assert Physician.objects.get(organization=summit, npi="2305520340").taxonomy_code == "207X00000X"
    assert Physician.objects.get(organization=summit, npi="1200826190").credential == ""
    shared = Practice.objects.get(organization=summit, address_line1="891 Oak Ave")
    assert shared.physicians.count() == 4
    assert result.practices_created == Practice.objects.filter(organization=summit).count() == 27


# ---- The management command ---------------------------------------------------


def write(tmp_path, content: bytes, name="npidata_pfile.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_command_imports_and_summarizes(summit, tmp_path):
    path = write(
        tmp_path, nppes_csv([person(valid_npi(1)), person("1234567890"), person(valid_npi(2), state="UT")])
    )
    out = io.StringIO()

    call_command("import_nppes", str(path), "--organization", "summit", "--state", "co", stdout=out)

    output = out.getvalue()
    assert "100% read, 3 rows; saving…" in output
    assert f"Imported into {summit.name}" in output
    assert "         1  physicians created" in output
    assert "         1  rows skipped" in output
    assert "         1  rows refused" in output
    assert "line 3, NPI “1234567890”: This NPI's check digit is wrong" in output
    assert imported_npis(summit) == {valid_npi(1)}


def test_command_filters_by_taxonomy(summit, tmp_path, mixed_file):
    path = write(tmp_path, mixed_file)

    call_command(
        "import_nppes",
        str(path),
        "--organization",
        "summit",
        "--taxonomy",
        "363L",
        "--taxonomy",
        "207Q00000X",
        stdout=io.StringIO(),
    )

    assert imported_npis(summit) == {valid_npi(3), valid_npi(5)}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["{file}", "--organization", "nowhere"], "No organization has the slug “nowhere”."),
        (["{missing}", "--organization", "summit"], "Cannot read {missing}: No such file or directory."),
        (["{folder}", "--organization", "summit"], "Is a directory."),
        (["{file}", "--organization", "summit", "--state", "Colorado"], "not understood: COLORADO."),
        (
            ["{bad}", "--organization", "summit"],
            "{bad}: Line 3 has 2 columns; the NPPES header has 330. Is this the NPPES Data Dissemination "
            "file? Nothing was imported.",
        ),
    ],
    ids=["unknown-organization", "missing-file", "folder", "bad-state", "malformed"],
)
def test_command_errors(summit, tmp_path, arguments, message):
    paths = {
        "file": write(tmp_path, nppes_csv([person(valid_npi(1))])),
        "bad": write(tmp_path, nppes_csv([person(valid_npi(1))]) + b'"1","2"\n', "bad.csv"),
        "missing": tmp_path / "missing.csv",
        "folder": tmp_path,
    }

    with pytest.raises(CommandError) as raised:
        call_command(
            "import_nppes", *(argument.format(**paths) for argument in arguments), stdout=io.StringIO()
        )

    assert message.format(**paths) in str(raised.value)
    assert not Physician.objects.exists()
    assert not Practice.objects.exists()


def test_command_exits_with_status_1_on_error(summit, capsys):
    with pytest.raises(SystemExit) as exited:
        Command().run_from_argv(["manage.py", "import_nppes", "/nonexistent.csv", "--organization", "summit"])

    assert exited.value.code == 1
    assert "Cannot read /nonexistent.csv" in capsys.readouterr().err


# ---- Jobs and the task --------------------------------------------------------


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def upload(content: bytes, name="npidata_pfile_20240101-20241231.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def test_upload_runs_in_the_task_end_to_end(
    summit, summit_admin, media, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    content = nppes_csv([person(valid_npi(1)), person(valid_npi(2), state="UT"), person("1234567890")])

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = nppes_import_enqueue(
            organization=summit,
            user=summit_admin.user,
            uploaded_file=upload(content),
            states=["co"],
            taxonomies=[],
        )

    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.status == ImportStatus.SUCCEEDED, job.error
    assert (job.original_name, job.states, job.taxonomies) == (
        "npidata_pfile_20240101-20241231.csv",
        ["CO"],
        [],
    )
    assert job.bytes_total == job.bytes_read == len(content)
    assert (job.rows_read, job.created_count, job.skipped_count, job.invalid_count) == (3, 1, 1, 1)
    assert job.invalid_rows == [
        {
            "line": 4,
            "npi": "1234567890",
            "reason": "This NPI's check digit is wrong; look for a mistyped digit.",
        }
    ]
    assert job.started_at <= job.finished_at
    assert job.percent == 100
    assert job.created_by == summit_admin.user


def queued_job(organization, content: bytes, **fields) -> NppesImport:
    return NppesImport.objects.create(
        organization=organization,
        file=upload(content),
        original_name="npidata.csv",
        bytes_total=len(content),
        **fields,
    )


def test_a_second_delivery_of_the_task_does_nothing(summit, media):
    job = queued_job(summit, nppes_csv([person(valid_npi(1))]))
    import_nppes_file.apply(args=[job.pk])
    job.refresh_from_db()
    assert (job.status, job.created_count) == (ImportStatus.SUCCEEDED, 1)
    finished_at = job.finished_at

    with CaptureQueriesContext(connection) as queries:
        import_nppes_file.apply(args=[job.pk])

    job.refresh_from_db()
    assert (job.status, job.created_count, job.finished_at) == (ImportStatus.SUCCEEDED, 1, finished_at)
    # Only the job is read and the claim tried (its row not found free); nothing is written.
    statements = [query["sql"].split()[0] for query in queries]
    assert [statement for statement in statements if statement not in ("SAVEPOINT", "RELEASE")] == [
        "SELECT",
        "SELECT",
        "SELECT",
    ]
    assert Physician.objects.count() == 1


def test_a_running_job_is_not_claimed_again(summit, media):
    job = queued_job(summit, nppes_csv([person(valid_npi(1))]), status=ImportStatus.RUNNING)

    assert nppes_import_run(job=job).status == ImportStatus.RUNNING
    assert not Physician.objects.exists()


def test_a_malformed_upload_fails_the_job_with_the_reason(summit, media):
    job = queued_job(summit, b"Name,Phone\nSmith,555\n")

    job = nppes_import_run(job=job)

    assert job.status == ImportStatus.FAILED
    assert job.error.startswith("The file has no column “NPI”")
    assert job.finished_at is not None
    assert not Physician.objects.exists()


def test_a_missing_upload_fails_the_job(summit, media):
    job = queued_job(summit, nppes_csv([person(valid_npi(1))]))
    Path(job.file.path).unlink()

    job = nppes_import_run(job=job)

    assert (job.status, job.error) == (
        ImportStatus.FAILED,
        "The uploaded file is no longer available; upload it again.",
    )


def test_progress_is_reported_while_reading(summit, monkeypatch):
    monkeypatch.setattr(reading, "PROGRESS_EVERY", 2)
    content = nppes_csv([person(valid_npi(n)) for n in range(1, 6)])
    reports = []

    nppes_file_import(
        organization=summit, file=io.BytesIO(content), on_progress=lambda *report: reports.append(report)
    )

    assert [rows for _, rows in reports] == [2, 4, 5]
    assert reports[-1] == (len(content), 5)


def test_an_unexpected_error_requeues_then_the_task_gives_up_and_fails_the_job(summit, media, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("physicians.nppes.jobs.nppes_file_import", broken)
    job = queued_job(summit, nppes_csv([person(valid_npi(1))]))

    with pytest.raises(RuntimeError):
        nppes_import_run(job=job)
    job.refresh_from_db()
    assert job.status == ImportStatus.QUEUED

    outcome = import_nppes_file.apply(args=[job.pk])

    assert outcome.failed()
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert job.error.startswith("The import stopped because of an unexpected error; nothing was changed.")


def test_the_task_is_named_and_acknowledged_late():
    assert import_nppes_file.name == "physicians.import_nppes_file"
    assert import_nppes_file.acks_late is True
    assert import_nppes_file.soft_time_limit < import_nppes_file.time_limit


def test_a_deleted_job_is_ignored(db):
    assert import_nppes_file.apply(args=[987654]).successful()


def test_enqueue_validates_filters(summit, summit_admin, media):
    with pytest.raises(ValidationError):
        nppes_import_enqueue(
            organization=summit,
            user=summit_admin.user,
            uploaded_file=upload(b""),
            states=["Colorado"],
            taxonomies=[],
        )
    assert not NppesImport.objects.exists()
