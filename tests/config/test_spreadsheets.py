import codecs

import pytest

from config.spreadsheets import csv_download, csv_lines, spreadsheet_safe


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1 303", "'+1 303"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("O'Brien", "O'Brien"),
        (None, ""),
        # Numbers themselves (a change, a refund) are no formula and stay numbers.
        (-3, "-3"),
        (-2.5, "-2.5"),
    ],
)
def test_spreadsheet_formulas_are_neutralized(value, expected):
    assert spreadsheet_safe(value) == expected


def test_csv_lines_write_the_header_then_safe_rows():
    lines = list(csv_lines(["Name", "Visits", "Notes"], [["=1+1", 2, None]]))

    assert lines == ["Name,Visits,Notes\r\n", "'=1+1,2,\r\n"]


def test_a_download_starts_with_a_byte_order_mark_so_excel_reads_utf8():
    response = csv_download(filename="people.csv", header=["Name"], rows=[["José Núñez"], ["=1+1"]])

    body = b"".join(response.streaming_content)
    assert body.startswith(codecs.BOM_UTF8)
    assert body.decode("utf-8-sig") == "Name\r\nJosé Núñez\r\n'=1+1\r\n"
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="people.csv"'
    assert response["X-Content-Type-Options"] == "nosniff"
