"""Days typed into filters stay within years that every time zone's clock can hold.

A date box takes 0001-01-01 and 9999-12-31. A filter turns a day into the
instants it starts and ends in a time zone, and the day after 9999-12-31, or
the midnight before 0001-01-01 east of UTC, does not exist (OverflowError, a
500). A clinic's records hold no day before 1900 or after 2199, so such a day
is a typo: `DayField` refuses it beside the field.
"""

import datetime

from django import forms
from django.core.exceptions import ValidationError

EARLIEST_DAY = datetime.date(1900, 1, 1)
LATEST_DAY = datetime.date(2199, 12, 31)


def validate_day_in_range(day: datetime.date) -> None:
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValidationError(
            f"Choose a day from {EARLIEST_DAY.year} to {LATEST_DAY.year}.", code="day_out_of_range"
        )


class DayField(forms.DateField):
    """A date field that refuses days outside EARLIEST_DAY to LATEST_DAY."""

    default_validators = [validate_day_in_range]
