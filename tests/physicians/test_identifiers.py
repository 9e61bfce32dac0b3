import pytest
from django.core.exceptions import ValidationError

from physicians.identifiers import npi_check_digit, npi_problem, validate_npi


@pytest.mark.parametrize("npi", ["1003000126", "1063947125", "1234567893"])
def test_valid_npis(npi):
    assert npi_problem(npi) is None
    validate_npi(npi)


@pytest.mark.parametrize(
    ("npi", "reason"),
    [
        ("1234567890", "check digit is wrong"),
        ("1111111111", "check digit is wrong"),
        ("9941339108", "starts with 1 or 2"),
        # Its Luhn digit is right, but NPIs start with 1 or 2.
        ("8554084011", "starts with 1 or 2"),
        ("12345", "exactly 10 digits"),
        ("123456789012", "exactly 10 digits"),
        ("12345ABCDE", "exactly 10 digits"),
        ("", "exactly 10 digits"),
    ],
)
def test_invalid_npis_say_why(npi, reason):
    assert reason in npi_problem(npi)
    with pytest.raises(ValidationError) as raised:
        validate_npi(npi)
    assert raised.value.code == "invalid_npi"


def test_check_digit_is_luhn_with_the_health_industry_prefix():
    # 80840 + 123456789 → Luhn check digit 3.
    assert npi_check_digit("123456789") == 3
    assert npi_check_digit("100300012") == 6
