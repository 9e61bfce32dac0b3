import os
import shutil
import sqlite3
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

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


@pytest.fixture(scope="session")
def seeded_copy(django_db_setup, django_db_blocker):
    """The test database just after seeding the demo, copied into memory once a run on SQLite; else None.

    Each test here commits, and the database is emptied after it; restoring
    this copy takes milliseconds where seeding again takes seconds.
    """
    if connection.vendor != "sqlite":
        yield None
        return
    with django_db_blocker.unblock():
        call_command("seed_demo", stdout=StringIO())
        connection.ensure_connection()
        copy = sqlite3.connect(":memory:")
        connection.connection.backup(copy)
    yield copy
    copy.close()


@pytest.fixture
def demo(seeded_copy, transactional_db):
    if seeded_copy is None:
        call_command("seed_demo", stdout=StringIO())
    else:
        connection.ensure_connection()
        seeded_copy.backup(connection.connection)


def sign_in(page, live_server, username, password=DEMO_PASSWORD):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.keyboard.press("Enter")
