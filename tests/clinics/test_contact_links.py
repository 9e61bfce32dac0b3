"""Every phone number shown is a `tel:` link and every email address a `mailto:` link, on every page.

Two nets: the templates are read for a phone or email value printed without
the `phone_link` or `email_link` filter (clinics/templatetags/contact_links.py),
and every page Rapport serves is rendered, for an admin whose directory,
clinics, referrals and email log all hold numbers and addresses, and its text
searched for a number or an address outside such a link.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from clinics.models import Clinic
from clinics.templatetags.contact_links import email_link, phone_link
from physicians.models import Gatekeeper, Physician, Practice
from referrals.models import Referral

from ..factories import AffiliationFactory, GatekeeperFactory, PlanOfCareFactory, ReferralFactory
from ..outbox.factories import OutboundEmailFactory
from ..test_url_isolation import NOT_OBJECT_URLS, iter_patterns, url_kwargs

# A value printed in a template: {{ path.to.value|filters }}.
PRINTED = re.compile(r"{{\s*([\w.]+)\s*((?:\|[^}]*)?)}}")
PHONE_VALUE = re.compile(r"(phone|fax)$")
EMAIL_VALUE = re.compile(r"(email|to_address|reply_to)$")
# How a number or an address looks in a page's text.
PHONE_TEXT = re.compile(r"\(\d{3}\) \d{3}-\d{4}|\+\d[\d -]{8,}\d|\b\d{3}[-.]\d{3}[-.]\d{4}\b")
# A domain ending in letters: a Message-ID's "…@127.0.0.1" is no address.
EMAIL_TEXT = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)*\.[A-Za-z]{2,}\b")


def templates() -> list[Path]:
    base = Path(settings.BASE_DIR)
    return sorted(path for path in base.glob("*/templates/**/*.html") if ".venv" not in path.parts) + sorted(
        (base / "templates").glob("**/*.html")
    )


def test_templates_print_phones_and_emails_only_as_links():
    unlinked = []
    for path in templates():
        for value, filters in PRINTED.findall(path.read_text()):
            if value.startswith(("form.", "field.")) or value.endswith("_count"):
                continue  # a form's own field, or how many
            if PHONE_VALUE.search(value) and "phone_link" not in filters:
                unlinked.append(f"{path.name}: {value}")
            if EMAIL_VALUE.search(value) and "email_link" not in filters:
                unlinked.append(f"{path.name}: {value}")
    assert not unlinked, f"Print these with |phone_link or |email_link: {unlinked}"


def test_a_number_dials_and_an_address_writes():
    assert (
        phone_link("+13035550142") == '<a class="text-nowrap" href="tel:+1-303-555-0142">(303) 555-0142</a>'
    )
    assert email_link("ana+pt@example.org") == '<a href="mailto:ana%2Bpt@example.org">ana+pt@example.org</a>'
    assert phone_link("") == email_link("") == ""


class TextOutsideContactLinks(HTMLParser):
    """A page's visible text outside tel: and mailto: links (and outside scripts, styles and form values)."""

    SKIPPED = {"script", "style", "textarea", "option", "title"}

    def __init__(self):
        super().__init__()
        self.in_contact_link = 0
        self.skipping = 0
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href") or ""
        if tag == "a" and href.startswith(("tel:", "mailto:")):
            self.in_contact_link += 1
        elif tag in self.SKIPPED:
            self.skipping += 1

    def handle_endtag(self, tag):
        if tag == "a" and self.in_contact_link:
            self.in_contact_link -= 1
        elif tag in self.SKIPPED and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.in_contact_link and not self.skipping:
            self.text.append(data)


def page_urls(organization) -> list[str]:
    urls = []
    for name, pattern in iter_patterns():
        keywords = set(pattern.pattern.converters)
        if name in NOT_OBJECT_URLS:
            continue
        urls.append(reverse(name, kwargs=url_kwargs(keywords, organization)))
    return urls


@pytest.fixture
def contacts(summit, summit_clinic, summit_admin):
    """Summit's directory, clinics, referrals and email log, every row with a number or an address."""
    affiliation = AffiliationFactory(organization=summit, is_primary=True)
    GatekeeperFactory(organization=summit, practice=affiliation.practice)
    PlanOfCareFactory(
        organization=summit, referral__physician=affiliation.physician, certifier=affiliation.physician
    )
    ReferralFactory(organization=summit)
    OutboundEmailFactory(organization=summit, to_address="ana@example.org")
    summit_admin.user.email = "admin@example.org"
    summit_admin.user.save()


def test_every_page_shows_numbers_and_addresses_as_links(client, summit, summit_admin, contacts):
    client.force_login(summit_admin.user)
    urls = page_urls(summit)
    # Every row the pages show, including those made for the pages' own ids, has a number and an address.
    Clinic.objects.filter(organization=summit).update(phone="+13035550141")
    Practice.objects.filter(organization=summit).update(phone="+13035550142", fax="+13035550143")
    Physician.objects.filter(organization=summit).update(phone="+13035550144", email="dr@example.org")
    Gatekeeper.objects.filter(organization=summit).update(phone="+13035550145", email="gk@example.org")
    Referral.objects.filter(organization=summit).update(
        patient_phone="+13035550146", patient_email="pat@example.org"
    )

    unlinked = {}
    for url in urls:
        response = client.get(url)
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        parser = TextOutsideContactLinks()
        parser.feed(response.content.decode())
        text = " ".join(parser.text)
        found = [match.group() for pattern in (PHONE_TEXT, EMAIL_TEXT) for match in pattern.finditer(text)]
        if found:
            unlinked[url] = found
    assert not unlinked, f"Numbers or addresses shown without a tel: or mailto: link: {unlinked}"
