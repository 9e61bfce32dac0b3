"""Generates NPPES Data Dissemination-format CSV files with synthetic rows, for the import benchmark.

The header (330 columns) is copied from a real NPPES file's first line, by
default the sample in tests/fixtures. Rows are fictitious individual providers
in CO, UT and WY with valid NPIs; `--edge` adds the awkward rows real files
hold (invalid NPIs, an organization, a deactivated NPI, quoting and accents,
a primary taxonomy outside the first slot, an empty row). `--update-of`
copies another generated file with a fifth of the credentials changed, as a
newer monthly file would have them. The same seed gives the same file.

    .venv/bin/python bench/make_nppes.py out.csv --rows 1000 --edge
"""

import argparse
import csv
import random
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "nppes_sample.csv"

# Long lists are easier to read filled than one value per line.
# fmt: off
FIRST = [
    "JAMES", "MARY", "ROBERT", "PATRICIA", "JOHN", "JENNIFER", "MICHAEL", "LINDA", "DAVID", "ELIZABETH",
    "WILLIAM", "BARBARA", "RICHARD", "SUSAN", "JOSEPH", "JESSICA", "THOMAS", "SARAH", "CHARLES", "KAREN",
    "PRIYA", "WEI", "AHMED", "FATIMA", "CARLOS", "LUCIA", "OLUWASEUN", "MEI", "DMITRI", "ANIKA"
]
LAST = [
    "SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "GARCIA", "MILLER", "DAVIS", "RODRIGUEZ", "MARTINEZ",
    "HERNANDEZ", "LOPEZ", "GONZALEZ", "WILSON", "ANDERSON", "THOMAS", "TAYLOR", "MOORE", "JACKSON",
    "MARTIN", "LEE", "PEREZ", "THOMPSON", "WHITE", "HARRIS", "SANCHEZ", "CLARK", "RAMIREZ", "LEWIS",
    "ROBINSON", "NGUYEN", "PATEL", "KIM", "CHEN", "OKAFOR"
]
# fmt: on
# (city, first three digits of its ZIP codes) by state
CITIES = {
    "CO": [("DENVER", "802"), ("BOULDER", "803"), ("AURORA", "800"), ("LAKEWOOD", "802")],
    "UT": [("SALT LAKE CITY", "841"), ("PROVO", "846")],
    "WY": [("CHEYENNE", "820")],
}
STREETS = [
    "MAIN ST",
    "OAK AVE",
    "COLFAX AVE",
    "BROADWAY",
    "SPEER BLVD",
    "LINCOLN ST",
    "PEARL ST",
    "UNIVERSITY BLVD",
    "HAMPDEN AVE",
    "ALAMEDA AVE",
]
# (NUCC taxonomy, usual credential); physical therapists are in the mix so a default import skips some.
TAXONOMIES = [
    ("207X00000X", "MD"),
    ("207XX0005X", "MD"),
    ("207Q00000X", "MD"),
    ("207R00000X", "DO"),
    ("208100000X", "MD"),
    ("2084N0400X", "MD"),
    ("213E00000X", "DPM"),
    ("111N00000X", "DC"),
    ("207V00000X", "MD"),
    ("208VP0000X", "MD"),
    ("363L00000X", "NP"),
    ("363A00000X", "PA-C"),
    ("207QS0010X", "MD"),
    ("225100000X", "PT"),
]

Row = dict[str, str]


def npi_check_digit(first_nine: str) -> int:
    """The Luhn check digit of an NPI, with the 80840 prefix counted as the constant 24."""
    total = 24
    for i, char in enumerate(reversed(first_nine)):
        digit = int(char)
        if i % 2 == 0:
            digit *= 2
            digit = digit // 10 + digit % 10
        total += digit
    return (10 - total % 10) % 10


def make_npi(rng: random.Random, used: set[str]) -> str:
    while True:
        first_nine = rng.choice("12") + "".join(rng.choice("0123456789") for _ in range(8))
        npi = first_nine + str(npi_check_digit(first_nine))
        if npi not in used:
            used.add(npi)
            return npi


def blank_row(header: list[str]) -> Row:
    return dict.fromkeys(header, "")


def person_row(header: list[str], rng: random.Random, used: set[str], state: str | None = None) -> Row:
    row = blank_row(header)
    state = state or rng.choice(["CO", "CO", "CO", "UT", "WY"])
    city, zip3 = rng.choice(CITIES[state])
    taxonomy, credential = rng.choice(TAXONOMIES)
    street = f"{rng.randint(100, 9999)} {rng.choice(STREETS)}"
    zip_code = zip3 + f"{rng.randint(0, 99):02d}"
    if rng.random() < 0.6:
        zip_code += f"{rng.randint(0, 9999):04d}"  # ZIP+4
    phone = f"{rng.choice(['303', '720', '801', '307'])}{rng.randint(2000000, 9999999)}"
    spellings = [credential, credential.replace("MD", "M.D."), credential]
    # Older files name the column "Provider Gender Code".
    sex_column = "Provider Sex Code" if "Provider Sex Code" in row else "Provider Gender Code"
    row.update(
        {
            "NPI": make_npi(rng, used),
            "Entity Type Code": "1",
            "Provider Last Name (Legal Name)": rng.choice(LAST),
            "Provider First Name": rng.choice(FIRST),
            "Provider Middle Name": rng.choice(["", "A", "B", "LEE", "MARIE"]),
            "Provider Name Prefix Text": rng.choice(["", "DR.", "DR"]),
            "Provider Credential Text": rng.choice(spellings),
            "Provider First Line Business Mailing Address": street,
            "Provider Business Mailing Address City Name": city,
            "Provider Business Mailing Address State Name": state,
            "Provider Business Mailing Address Postal Code": zip_code,
            "Provider Business Mailing Address Country Code (If outside U.S.)": "US",
            "Provider First Line Business Practice Location Address": street,
            "Provider Second Line Business Practice Location Address": rng.choice(
                ["", "", f"SUITE {rng.randint(100, 500)}"]
            ),
            "Provider Business Practice Location Address City Name": city,
            "Provider Business Practice Location Address State Name": state,
            "Provider Business Practice Location Address Postal Code": zip_code,
            "Provider Business Practice Location Address Country Code (If outside U.S.)": "US",
            "Provider Business Practice Location Address Telephone Number": phone,
            "Provider Business Practice Location Address Fax Number": rng.choice(["", phone[:-1] + "9"]),
            "Provider Enumeration Date": (
                f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(2005, 2024)}"
            ),
            "Last Update Date": (
                f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(2024, 2026)}"
            ),
            sex_column: rng.choice("MF"),
            "Healthcare Provider Taxonomy Code_1": taxonomy,
            "Healthcare Provider Primary Taxonomy Switch_1": "Y",
            "Provider License Number_1": f"{state}{rng.randint(10000, 99999)}",
            "Provider License Number State Code_1": state,
        }
    )
    return row


def edge_rows(header: list[str], rng: random.Random, used: set[str]) -> list[Row]:
    """Rows a real file holds and an import must refuse, skip or read correctly."""

    def person(**changes: str) -> Row:
        return person_row(header, rng, used, "CO") | changes

    # Each row draws from `rng`, so they are built in this order.
    rows = [
        person(NPI="1234567890"),  # wrong check digit
        person(NPI="8554084011"),  # right check digit, wrong first digit
        person(NPI="12345"),  # too short
        person(**{"NPI Deactivation Date": "03/15/2023", "NPI Deactivation Reason Code": "DT"}),
        person(
            **{
                "Healthcare Provider Primary Taxonomy Switch_1": "N",
                "Healthcare Provider Taxonomy Code_2": "363L00000X",
                "Healthcare Provider Primary Taxonomy Switch_2": "N",
                "Healthcare Provider Taxonomy Code_3": "207X00000X",
                "Healthcare Provider Primary Taxonomy Switch_3": "Y",
            }
        ),
        person(
            **{
                "Provider Last Name (Legal Name)": "O'BRIEN-NÚÑEZ",
                "Provider First Name": "JOSÉ",
                "Provider First Line Business Practice Location Address": '1200 "THE CROSSINGS", BLDG 2',
            }
        ),
        person(**{"Provider Credential Text": ""}),
    ]
    organization = blank_row(header) | {
        "NPI": make_npi(rng, used),
        "Entity Type Code": "2",
        "Provider Organization Name (Legal Business Name)": "FRONT RANGE ORTHOPEDICS, P.C.",
        "Provider First Line Business Practice Location Address": "3000 SPEER BLVD",
        "Provider Business Practice Location Address City Name": "DENVER",
        "Provider Business Practice Location Address State Name": "CO",
        "Provider Business Practice Location Address Postal Code": "80211",
        "Healthcare Provider Taxonomy Code_1": "207X00000X",
        "Healthcare Provider Primary Taxonomy Switch_1": "Y",
    }
    return [*rows, organization, blank_row(header) | {"Entity Type Code": ""}]


def write_update(source: Path, writer: csv.DictWriter) -> None:
    """A newer month's file: a fifth of the individuals have a changed credential."""
    with source.open(newline="", encoding="utf-8") as stream:
        for i, row in enumerate(csv.DictReader(stream)):
            if i % 5 == 0 and row["Entity Type Code"] == "1":
                row["Provider Credential Text"] = (row["Provider Credential Text"] + " FACS").strip()
                row["Last Update Date"] = "11/01/2026"
            writer.writerow(row)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--header-source", type=Path, default=SAMPLE, help="an NPPES file; its first line")
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--edge", action="store_true", help="add the awkward rows real files hold")
    parser.add_argument("--update-of", type=Path, help="copy this generated file with credentials changed")
    parser.add_argument(
        "--same-practice", type=int, default=0, help="put this many of the rows at one shared address"
    )
    options = parser.parse_args()
    with options.header_source.open(newline="", encoding="utf-8") as stream:
        header = next(csv.reader(stream))
    rng = random.Random(options.seed)  # noqa: S311 (synthetic data, not secrets)
    used: set[str] = set()
    with options.out.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=header, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writeheader()
        if options.update_of:
            write_update(options.update_of, writer)
            return
        shared_address = None
        for i in range(options.rows):
            row = person_row(header, rng, used)
            if i < options.same_practice:
                if shared_address is None:
                    shared_address = {key: row[key] for key in header if "Practice Location" in key}
                row.update(shared_address)
            writer.writerow(row)
        if options.edge:
            writer.writerows(edge_rows(header, rng, used))


if __name__ == "__main__":
    main()
