import pytest

from clinics.models import Role

from ..factories import TEST_PASSWORD, MembershipFactory

# The live server runs in another thread, so the data must be committed.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_copy_button_puts_the_new_calendar_address_on_the_clipboard(page, live_server, summit, settings):
    liaison = MembershipFactory(organization=summit, role=Role.LIAISON)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(liaison.user.username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")

    page.goto(f"{live_server.url}/outreach/calendar/")
    page.get_by_role("button", name="Create my calendar address").click()
    page.get_by_role("button", name="Copy").click()

    address = page.get_by_label("Copy it now").input_value()
    # Built from SITE_URL, never from the request's host.
    assert address.startswith(f"{settings.SITE_URL}/outreach/calendar/")
    assert page.get_by_role("status").filter(has_text="Copied.").is_visible()
    assert page.evaluate("navigator.clipboard.readText()") == address
    assert page.console_errors == []
