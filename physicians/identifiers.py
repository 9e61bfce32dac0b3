"""National Provider Identifier (NPI) validation."""

from django.core.exceptions import ValidationError

# The NPI check digit is the Luhn digit of the number prefixed with 80840
# (the health-industry issuer prefix); those five digits always add 24 to the
# Luhn sum of the first nine digits.
NPI_PREFIX_LUHN_SUM = 24


def npi_check_digit(first_nine: str) -> int:
    total = NPI_PREFIX_LUHN_SUM
    for position, char in enumerate(reversed(first_nine)):
        digit = int(char)
        if position % 2 == 0:  # doubled: rightmost of the payload, then every other one
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def npi_problem(value: str) -> str | None:
    """Why `value` is not a valid NPI, in words a front-desk user understands; None if valid."""
    if len(value) != 10 or not value.isdigit():
        return "An NPI is exactly 10 digits."
    if value[0] not in "12":
        return "An NPI starts with 1 or 2."
    if npi_check_digit(value[:9]) != int(value[9]):
        return "This NPI's check digit is wrong; look for a mistyped digit."
    return None


def validate_npi(value: str) -> None:
    problem = npi_problem(value)
    if problem:
        raise ValidationError(problem, code="invalid_npi")
