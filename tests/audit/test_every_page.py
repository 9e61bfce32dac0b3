"""Walks every URL pattern: each page that shows patient data writes exactly one access event.

Every view declares itself: `@records_access` (it can show patient data) or
`@shows_no_patient_data` (it never does). A view declared neither fails
`test_every_view_declares_whether_it_shows_patient_data`, so a new page
cannot forget. Then each page is opened as Summit's admin, with Summit's
objects and a referral in every list:

- a recorded page that answers 2xx writes one event, with its URL name, the
  object its address names and every referral it loaded; a redirect or an
  error writes none;
- a page declared without patient data writes none and loads no referral
  (so the declaration is checked, not trusted).
"""

import pytest
from django.db.models.signals import post_init
from django.urls import reverse

from audit.models import AccessEvent, AccessEventReferral, AccessKind
from audit.recording import RecordsAccess, ShowsNoPatientData
from referrals.models import Referral

from ..factories import PlanOfCareFactory, ReferralFactory, TouchFactory
from ..letters.factories import LetterFactory
from ..test_url_isolation import NOT_OBJECT_URLS, iter_patterns, url_kwargs

# Views the trail cannot decorate: apps below it (they may not import it) and
# Django's own. None shows patient data, which the walk checks like the rest.
UNDECLARED = {
    "home": "counts of work waiting and physicians' names (clinics, below audit)",
    "healthz": "answers whether the database does",
    "login": "Django's sign-in (sign-ins are recorded through its signals)",
    "logout": "Django's sign-out",
    "password_change": "Django's password change",
    "password_change_done": "Django's password change",
    "password_reset": "password reset by email",
    "password_reset_done": "password reset by email",
    "password_reset_confirm": "password reset by email",
    "password_reset_complete": "password reset by email",
}
UNDECLARED_NAMESPACES = {
    "clinics": "the organization's clinics, staff, payers, services and settings (below audit)",
}


def declaration(name, pattern):
    declared = getattr(pattern.callback, "audit_access", None)
    if declared is None and (name in UNDECLARED or name.split(":")[0] in UNDECLARED_NAMESPACES):
        return ShowsNoPatientData(UNDECLARED.get(name, "below audit"))
    return declared


def test_every_view_declares_whether_it_shows_patient_data():
    undeclared = sorted(name for name, pattern in iter_patterns() if declaration(name, pattern) is None)

    assert not undeclared, (
        "Mark these views @records_access(...) if they can show patient data, "
        f"else @shows_no_patient_data('why'): {undeclared}"
    )


def test_the_walk_covers_the_pages_that_matter():
    recorded = {
        name for name, pattern in iter_patterns() if isinstance(declaration(name, pattern), RecordsAccess)
    }

    assert {
        "referrals:list",
        "referrals:detail",
        "referrals:queues",
        "referrals:intake",
        "referrals:document",
        "referrals:export_download",
        "letters:detail",
        "letters:print",
        "letters:read",
        "outcomes:survey",
        "billing:review_list",
        "physicians:detail",
        "physicians:export",
        "analytics:pipeline_export",
        "outbox:detail",
        "audit:search",
        "audit:export",
    } <= recorded


@pytest.fixture
def loaded_referrals():
    """The ids of the referrals built from database rows while the test runs."""
    loaded: set[int] = set()

    def note(sender, instance, **kwargs):
        if instance.pk is not None:
            loaded.add(instance.pk)

    post_init.connect(note, sender=Referral, dispatch_uid="tests.audit.loaded")
    yield loaded
    post_init.disconnect(sender=Referral, dispatch_uid="tests.audit.loaded")


@pytest.fixture
def summit_data(summit, summit_admin, media_root):
    """Something in every list: a referral with a plan of care, a letter and a touch with its physician."""
    referral = ReferralFactory(organization=summit, therapist=summit_admin.user)
    PlanOfCareFactory(organization=summit, referral=referral)
    LetterFactory(organization=summit, referral=referral)
    TouchFactory(organization=summit, physician=referral.physician)
    return referral


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


WALKED = sorted(
    (name, tuple(sorted(pattern.pattern.converters)))
    for name, pattern in iter_patterns()
    if name not in NOT_OBJECT_URLS
)


@pytest.mark.parametrize(("url_name", "keywords"), WALKED, ids=[name for name, _ in WALKED])
def test_a_page_writes_one_event_if_it_shows_patient_data(
    client, summit, summit_admin, summit_data, loaded_referrals, url_name, keywords
):
    pattern = dict(iter_patterns())[url_name]
    declared = declaration(url_name, pattern)
    kwargs = url_kwargs(set(keywords), summit)
    if "physician_id" in kwargs and "referral_id" not in kwargs:
        # The physician with a referral, so their page has one to show.
        kwargs["physician_id"] = summit_data.physician_id
    client.force_login(summit_admin.user)
    before = AccessEvent.objects.count()
    loaded_referrals.clear()

    response = client.get(reverse(url_name, kwargs=kwargs))
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)

    events = list(AccessEvent.objects.order_by("seq")[before:])
    if isinstance(declared, ShowsNoPatientData):
        assert events == [], f"{url_name} is declared without patient data but wrote {events}"
        assert not loaded_referrals, f"{url_name} is declared without patient data but loaded referrals"
        return
    if not 200 <= response.status_code < 300:
        assert events == []
        return
    assert len(events) == 1, f"{url_name}: {len(events)} events"
    event = events[0]
    assert event.path_name == url_name
    assert event.user == summit_admin.user
    assert event.kind == declared.kind
    assert event.organization == summit
    if declared.object_kwarg:
        assert (event.object_type, event.object_id) == (declared.object_type, kwargs[declared.object_kwarg])
    shown = set(AccessEventReferral.objects.filter(event=event).values_list("referral_id", flat=True))
    assert shown == loaded_referrals


def test_a_list_page_records_every_referral_it_displays_in_one_event(client, summit, summit_admin):
    referrals = ReferralFactory.create_batch(3, organization=summit)
    client.force_login(summit_admin.user)
    before = AccessEvent.objects.count()

    client.get(reverse("referrals:list"))

    event = AccessEvent.objects.order_by("seq")[before:].get()
    assert event.kind == AccessKind.PAGE
    assert event.referral_count == 3
    assert set(AccessEventReferral.objects.filter(event=event).values_list("referral_id", flat=True)) == {
        referral.pk for referral in referrals
    }


def test_a_refusal_or_a_missing_page_writes_nothing(client, summit, summit_front_desk):
    client.force_login(summit_front_desk.user)
    before = AccessEvent.objects.count()

    assert client.get(reverse("audit:search")).status_code == 403
    assert client.get(reverse("referrals:detail", args=[987654321])).status_code == 404
    assert AccessEvent.objects.count() == before


def test_a_recorded_page_costs_one_statement_more_on_postgresql(client, summit, summit_admin, monkeypatch):
    """One statement on PostgreSQL; on SQLite three (the head, the event, its referrals) and a savepoint."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from audit import recording

    referral = ReferralFactory(organization=summit)
    url = reverse("referrals:detail", args=[referral.pk])
    client.force_login(summit_admin.user)
    client.get(url)  # the organization's chain starts: its head is made once

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    with_trail = queries()
    monkeypatch.setattr(recording, "_record", lambda *args, **kwargs: None)
    without = queries()

    assert with_trail - without == (1 if connection.vendor == "postgresql" else 5)
