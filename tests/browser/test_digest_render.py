"""The weekly digest in Chromium: the email's HTML as a mail client shows it, and the page, at two widths.

The email is rendered from its stored HTML (no JavaScript, inline styles only)
with scripts off, as mail clients do; it must not scroll sideways on a
phone, must carry its figures as text, and its links must be absolute. The
page behind "view in browser" must show the same sections.
"""

import os
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from clinics.models import Membership
from outbox.models import OutboundEmail

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
SHOTS = os.environ.get("RAPPORT_SCREENSHOTS")


def scrolls_sideways(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth + 1")


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_the_digest_email_reads_without_scripts_or_images_and_fits_a_phone(browser, demo, width):
    call_command("send_digests", "--due-now")
    emails = list(OutboundEmail.objects.filter(kind="weekly_digest"))
    assert emails
    context = browser.new_context(viewport=WIDTHS[width], java_script_enabled=False)
    page = context.new_page()
    for email in emails:
        assert "<script" not in email.body_html
        page.set_content(email.body_html)
        assert not scrolls_sideways(page), (width, email.to_address)
        text = page.inner_text("body")
        assert "here is your week" in text
        assert "View in your browser" in text
        assert "Unsubscribe" in text
        hrefs = [element.get_attribute("href") or "" for element in page.query_selector_all("a")]
        assert all(href.startswith("http") for href in hrefs)
        if SHOTS:
            page.screenshot(path=str(Path(SHOTS) / f"digest-email-{width}-{email.pk}.png"), full_page=True)
    context.close()


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_the_digest_page_shows_the_emails_sections_at_each_width(browser, demo, live_server, width):
    therapist = Membership.objects.select_related("user").get(
        organization__slug="summit", role="therapist", user__username="summit.therapist"
    )
    context = browser.new_context(viewport=WIDTHS[width])
    page = context.new_page()
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    sign_in(page, live_server, "summit.therapist")

    page.goto(
        f"{live_server.url}{reverse('digests:view', kwargs={'organization_id': therapist.organization_id})}"
    )

    headings = page.locator("article.digest h3").all_inner_texts()
    assert "New referrals and evaluations coming up" in headings
    assert "Plans of care to sign" in headings
    assert not scrolls_sideways(page)
    assert not errors
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"digest-page-{width}.png"), full_page=True)
    context.close()
