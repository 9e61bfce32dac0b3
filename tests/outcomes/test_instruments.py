"""The instruments' rules by table: range, direction, MCID (points, a share of intake, or none), QuickDASH."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from outcomes.instruments import INSTRUMENTS, instrument

D = Decimal


@pytest.mark.parametrize(
    ("code", "intake", "latest", "improvement", "mcid", "reached"),
    [
        # LEFS: higher is better, 9 points.
        ("lefs", "40", "58", "18", "9", True),
        ("lefs", "40", "49", "9", "9", True),
        ("lefs", "40", "48", "8", "9", False),
        ("lefs", "40", "30", "-10", "9", False),
        # ODI: lower is better, 10 points or 30 % of intake, whichever is smaller.
        ("odi", "50", "40", "10", "10", True),
        ("odi", "50", "41", "9", "10", False),
        ("odi", "20", "14", "6", "6", True),
        ("odi", "20", "15", "5", "6", False),
        ("odi", "20", "30", "-10", "6", False),
        # 30 % of nothing is no threshold: an ODI of 0 that stays 0 did not improve.
        ("odi", "0", "0", "0", "10", False),
        # NDI: lower is better, 7.5 points on 0–50.
        ("ndi", "24", "16", "8", "7.5", True),
        ("ndi", "24", "17", "7", "7.5", False),
        # QuickDASH: lower is better, 14 points.
        ("quickdash", "52.27", "38.27", "14", "14", True),
        ("quickdash", "52.27", "40", "12.27", "14", False),
        # PSFS: higher is better, 2 points on the mean.
        ("psfs", "3.4", "5.4", "2", "2", True),
        ("psfs", "3.4", "5.2", "1.8", "2", False),
        # NPRS: lower is better, 2 points or 30 %.
        ("nprs", "8", "6", "2", "2", True),
        ("nprs", "3", "2", "1", "0.9", True),
        ("nprs", "8", "7", "1", "2", False),
        # FOTO lumbar: higher is better, 5 points.
        ("foto_lumbar", "50", "55", "5", "5", True),
        ("foto_lumbar", "50", "54", "4", "5", False),
        # No published MCID: a change, no verdict.
        ("koos_jr", "48.5", "70.2", "21.7", None, None),
        ("hoos_jr", "60", "55", "-5", None, None),
        ("foto", "40", "70", "30", None, None),
    ],
)
def test_mcid_verdict_in_the_improving_direction(code, intake, latest, improvement, mcid, reached):
    measure = instrument(code)

    assert measure.improvement(intake=D(intake), latest=D(latest)) == D(improvement)
    assert measure.mcid_for(D(intake)) == (D(mcid) if mcid else None)
    assert measure.reached_mcid(intake=D(intake), latest=D(latest)) is reached


@pytest.mark.parametrize(
    ("code", "intake", "latest", "meaning"),
    [
        ("lefs", "40", "58", "improved 18 points, more than the 9-point change patients notice"),
        ("lefs", "40", "49", "improved 9 points, the 9-point change patients notice"),
        ("lefs", "40", "44", "improved 4 points, less than the 9-point change patients notice"),
        ("lefs", "40", "40", "no change, short of the 9-point change patients notice"),
        ("odi", "20", "25", "worse by 5 points, short of the 6-point change patients notice"),
        ("nprs", "6", "5", "improved 1 point, less than the 1.8-point change patients notice"),
        (
            "koos_jr",
            "48.5",
            "70.2",
            "improved 21.7 points; KOOS JR has no published threshold for a change patients notice",
        ),
    ],
)
def test_the_meaning_in_plain_words(code, intake, latest, meaning):
    assert instrument(code).meaning(intake=D(intake), latest=D(latest)) == meaning


@pytest.mark.parametrize(
    ("code", "score", "message"),
    [
        ("lefs", "81", "LEFS scores run from 0 to 80; 81 is outside that range."),
        ("lefs", "-1", "LEFS scores run from 0 to 80; -1 is outside that range."),
        ("ndi", "51", "NDI scores run from 0 to 50; 51 is outside that range."),
        ("nprs", "11", "NPRS scores run from 0 to 10; 11 is outside that range."),
        ("lefs", "40.5", "LEFS scores are whole numbers; 40.5 is not."),
        ("psfs", "4.333", "PSFS scores are at most 2 decimals; 4.333 is not."),
    ],
)
def test_a_score_out_of_range_or_too_precise_is_refused(code, score, message):
    with pytest.raises(ValidationError) as refused:
        instrument(code).check_score(D(score))

    assert refused.value.messages == [message]


@pytest.mark.parametrize("measure", INSTRUMENTS, ids=lambda measure: measure.code)
def test_every_instrument_takes_its_own_bounds(measure):
    measure.check_score(measure.minimum)
    measure.check_score(measure.maximum)


def test_an_unknown_instrument_is_refused():
    with pytest.raises(ValidationError, match="not an outcome measure"):
        instrument("sf36")


@pytest.mark.parametrize(
    ("answers", "score"),
    [
        ([1] * 11, "0.00"),
        ([5] * 11, "100.00"),
        ([3] * 11, "50.00"),
        # (mean − 1) × 25: mean 29 / 11 = 2.636…, so 40.91.
        ([2, 3, 2, 3, 2, 3, 2, 3, 3, 3, 3], "40.91"),
        # One item blank: the mean of the ten answered.
        ([2, 3, 2, 3, 2, 3, 2, 3, 3, None, 3], "40.00"),
    ],
)
def test_quickdash_from_its_items(answers, score):
    assert instrument("quickdash").score_from_items(answers) == D(score)


def test_quickdash_needs_ten_of_its_eleven_items():
    with pytest.raises(ValidationError) as refused:
        instrument("quickdash").score_from_items([2, 3, 2, 3, 2, 3, 2, 3, 3, None, None])

    assert refused.value.messages == ["QuickDASH needs at least 10 of its 11 items answered; 9 are."]


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ([2] * 10, "QuickDASH has 11 items; 10 were given."),
        ([2] * 10 + [6], "QuickDASH items are answered 1 to 5."),
    ],
)
def test_quickdash_items_must_be_eleven_answers_of_one_to_five(answers, message):
    with pytest.raises(ValidationError) as refused:
        instrument("quickdash").score_from_items(answers)

    assert refused.value.messages == [message]


def test_an_instrument_without_items_is_typed_as_a_total():
    with pytest.raises(ValidationError, match="recorded as a total"):
        instrument("lefs").score_from_items([1] * 11)
