import os
import shutil
import sqlite3
from io import BytesIO, StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.migrations.recorder import MigrationRecorder

from clinics.demo import DEMO_PASSWORD

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django's ORM
    # calls in fixtures are still synchronous and safe here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    yield page
    context.close()


class PostgresSnapshot:
    """Every table's rows, copied out with COPY once and put back in a moment before each test."""

    def __init__(self) -> None:
        self.rows: dict[str, bytes] = {}
        with connection.cursor() as cursor:
            for table in connection.introspection.table_names(cursor):
                if table != MigrationRecorder.Migration._meta.db_table:
                    buffer = BytesIO()
                    cursor.cursor.copy_expert(f'COPY "{table}" TO STDOUT (FORMAT binary)', buffer)
                    self.rows[table] = buffer.getvalue()

    def restore(self) -> None:
        """Empties the tables (the last test's flush has put content types back) and copies the rows in."""
        models = [model for model in apps.get_models(include_auto_created=True) if model._meta.managed]
        with transaction.atomic(), connection.cursor() as cursor:
            # Rows go back table by table in no particular order: foreign keys and triggers
            # wait, as in a replica, until the copy is whole.
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute(f"TRUNCATE {', '.join(f'"{table}"' for table in self.rows)}")
            for table, rows in self.rows.items():
                cursor.cursor.copy_expert(f'COPY "{table}" FROM STDIN (FORMAT binary)', BytesIO(rows))
            for statement in connection.ops.sequence_reset_sql(no_style(), models):
                cursor.execute(statement)


@pytest.fixture(scope="session")
def seeded_copy(django_db_setup, django_db_blocker):
    """The test database just after seeding the demo, copied once a run.

    Each test here commits, and the database is emptied after it; restoring
    this copy takes a moment where seeding again takes many seconds.
    """
    with django_db_blocker.unblock():
        call_command("seed_demo", stdout=StringIO())
        connection.ensure_connection()
        if connection.vendor != "sqlite":
            snapshot = PostgresSnapshot()
        else:
            snapshot = sqlite3.connect(":memory:")
            connection.connection.backup(snapshot)
    yield snapshot
    if isinstance(snapshot, sqlite3.Connection):
        snapshot.close()


@pytest.fixture
def demo(seeded_copy, transactional_db):
    connection.ensure_connection()
    if isinstance(seeded_copy, PostgresSnapshot):
        seeded_copy.restore()
    else:
        seeded_copy.backup(connection.connection)


def sign_in(page, live_server, username, password=DEMO_PASSWORD):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.keyboard.press("Enter")
