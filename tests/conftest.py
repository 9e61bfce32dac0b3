"""Fixtures shared by the whole suite.

The three personas of every ownership test: a user, a colleague in the same
organization with another role, and an outsider in another organization.
"""

import os

import factory.random
import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from clinics.models import Role

from .factories import ClinicFactory, MembershipFactory, OrganizationFactory

REQUIRE_SERVICES = os.environ.get("RAPPORT_REQUIRE_SERVICES") == "1"
# Fixtures for tests that deliver email through a real worker to an SMTP server, and for
# tests of data migrations, each in a scratch database of its own.
pytest_plugins = ["tests.delivery", "tests.migrations"]


@pytest.fixture(autouse=True)
def _same_names_every_run(request):
    """Factories draw the same names for a test on every run, whatever ran before it in its worker.

    A random physician named Lopez once met a test that checks a patient Lopez never shows.
    """
    factory.random.reseed_random(request.node.nodeid)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Counters in the cache (password-reset limits) start at zero in every test."""
    cache.clear()


@pytest.fixture
def summit(db):
    return OrganizationFactory(name="Summit Physical Therapy", slug="summit")


@pytest.fixture
def harbor(db):
    return OrganizationFactory(name="Harbor Rehab", slug="harbor")


@pytest.fixture
def summit_clinic(summit):
    return ClinicFactory(organization=summit, name="Summit PT – Downtown")


@pytest.fixture
def harbor_clinic(harbor):
    return ClinicFactory(organization=harbor, name="Harbor Rehab – Waterfront")


@pytest.fixture
def member_factory(db):
    def make(organization, role=Role.THERAPIST, **kwargs):
        return MembershipFactory(organization=organization, role=role, **kwargs)

    return make


@pytest.fixture
def summit_admin(summit, member_factory):
    return member_factory(summit, Role.ADMIN)


@pytest.fixture
def summit_front_desk(summit, member_factory):
    return member_factory(summit, Role.FRONT_DESK)


@pytest.fixture
def harbor_admin(harbor, member_factory):
    return member_factory(harbor, Role.ADMIN)


@pytest.fixture
def login(client):
    """Signs `client` in as a membership's user, with the session clock started."""

    def sign_in(membership, http_client=None):
        http_client = http_client or client
        http_client.force_login(membership.user)
        return http_client

    return sign_in


@pytest.fixture
def admin_client(client, login, summit_admin):
    return login(summit_admin)


# Packages whose tests share one costly setup per worker (the seeded demo, Chromium and its
# seeded copy): each goes to a single worker as one unit, not file by file to every worker.
SHARED_SETUP_PACKAGES = ("tests/demo/", "tests/browser/")


def pytest_xdist_make_scheduler(config, log):
    """`--dist=loadfile`, except that each package of SHARED_SETUP_PACKAGES is one unit of work."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LoadFileOrSharedSetupScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return next((package for package in SHARED_SETUP_PACKAGES if path.startswith(package)), path)

    return LoadFileOrSharedSetupScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    """Tests of PostgreSQL-only safeguards leave the SQLite run instead of being skipped in it.

    They are not hidden: the PostgreSQL run collects them, and a skip there still fails CI.
    """
    if connection.vendor == "postgresql":
        return
    postgresql_only = [item for item in items if item.get_closest_marker("postgresql")]
    if postgresql_only:
        config.hook.pytest_deselected(items=postgresql_only)
        items[:] = [item for item in items if not item.get_closest_marker("postgresql")]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI's services run a skipped test is a failure: nothing may hide."""
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_SERVICES and report.skipped and call.when in ("setup", "call"):
        report.outcome = "failed"
        report.longrepr = f"Skipped while RAPPORT_REQUIRE_SERVICES=1: {report.longrepr}"


@pytest.fixture
def client_factory():
    """Makes more test clients: one browser per person in a scenario."""
    return Client
