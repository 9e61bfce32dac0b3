"""Ids out of any row's range, or no ids at all, answer 400, 404 or a form error on every URL: never a 500.

The walk sends every id parameter the project's forms and views read, set
to each bad value, to every URL pattern by GET and POST, and puts a 22-digit
id in every URL's own id. SQLite raised OverflowError on a 22-digit id in
`pk__in`; PostgreSQL compares it as a numeric: run on both.
"""

import pytest
from django import forms
from django.urls import reverse

from announcements.forms import IdListField
from clinics.models import Role
from config.ids import ID_MAX, id_from_input

from .factories import ReferralFactory
from .test_dependency_order import RAPPORT_APPS
from .test_url_isolation import NOT_OBJECT_URLS, iter_patterns

HUGE = "1" * 22
BAD_IDS = [HUGE, f"-{HUGE}", str(ID_MAX + 1), "²", "1e3", "12abc"]
# The walk sends fewer, one of each kind, to stay quick: out of range either way, and not ASCII.
WALKED_BAD_IDS = [HUGE, f"-{HUGE}", "²"]
PROJECT_APPS = (*RAPPORT_APPS, "config")
# Ids that views read from the query string by hand, through id_from_input.
READ_BY_HAND = {"physician", "practice", "gatekeeper", "clinic", "page"}


def _form_classes(base=forms.BaseForm):
    for form_class in base.__subclasses__():
        if form_class.__module__.split(".")[0] in PROJECT_APPS:
            yield form_class
        yield from _form_classes(form_class)


def id_parameters() -> set[str]:
    """The name of every field of every project form that takes ids, and those read by hand."""
    names = set(READ_BY_HAND)
    for form_class in _form_classes():
        # A mixin such as StyledForm declares no fields of its own.
        for name, field in getattr(form_class, "base_fields", {}).items():
            if isinstance(field, forms.ModelChoiceField | IdListField):
                names.add(name)
    return names


def test_the_walk_knows_the_id_fields_of_the_forms():
    assert {"referrals", "certifier", "physician", "populations", "repeat_of", "payers"} <= id_parameters()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12", 12),
        (" 12 ", 12),
        (str(ID_MAX), ID_MAX),
        *((bad, None) for bad in BAD_IDS),
        ("", None),
        (None, None),
    ],
)
def test_id_from_input(raw, expected):
    assert id_from_input(raw) == expected


def _every_url() -> list[tuple[str, str]]:
    urls = []
    for name, pattern in iter_patterns():
        if name == "logout":  # would end the walk's session
            continue
        keywords = set(pattern.pattern.converters)
        value = "not-a-secret" if name in NOT_OBJECT_URLS else HUGE
        urls.append((name, reverse(name, kwargs=dict.fromkeys(keywords, value))))
    return urls


def test_every_url_refuses_bad_ids_without_a_500(client, summit, member_factory):
    ReferralFactory(organization=summit)
    client.force_login(member_factory(summit, Role.ADMIN).user)
    names = sorted(id_parameters())
    failures = []

    for url_name, url in _every_url():
        for bad in WALKED_BAD_IDS:
            data = dict.fromkeys(names, bad)
            for method in ("get", "post"):
                status = getattr(client, method)(url, data).status_code
                if status >= 500:
                    failures.append(f"{method.upper()} {url_name} {bad}: {status}")

    assert not failures, "\n".join(failures)


def test_moving_a_22_digit_referral_is_a_message(client, summit, member_factory):
    client.force_login(member_factory(summit, Role.FRONT_DESK).user)

    response = client.post(
        reverse("referrals:bulk_transition"), {"referrals": [HUGE], "to_status": "contacted"}, follow=True
    )

    assert response.status_code == 200
    assert "Tick the referrals to move" in response.content.decode()
