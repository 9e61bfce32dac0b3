"""Every page, on a phone: nothing scrolls sideways at 390 px, and the field's targets are in reach.

The walk takes every URL pattern (the machinery of tests/test_url_isolation.py),
fills its ids from the demo (the richest physician, a referral with a plan of
care, an announcement really sent) made harder with long unbroken words, asks
Django which URLs answer a GET with a page, and opens each one in Chromium as
every role allowed to see it, in one browser: a new page is checked the day it
is added, with no list to update.
"""

import datetime
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.db.models import Count, Q
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from announcements.services import announcement_send
from clinics.models import Membership, Organization, OrganizationExport, Payer, Role, ServiceOffering
from letters.models import Letter, LetterKind, LetterStatus
from letters.services import letter_link
from outbox.models import OutboundEmail
from outcomes.models import NpsResponse, Phase
from outcomes.services import nps_survey_link
from outreach.models import FlagKind, FlagSeverity, FollowUp, Touch
from physicians.models import Gatekeeper, GatekeeperRole, Physician, Practice
from referrals.models import Referral, Status

from ..factories import (
    TEST_PASSWORD,
    AffiliationFactory,
    BillingImportFactory,
    FlagFactory,
    GatekeeperFactory,
    MembershipFactory,
    NppesImportFactory,
    PaymentFactory,
    PracticeFactory,
    ReferralDocumentFactory,
    ReferralExportFactory,
    ReviewRowFactory,
    TouchFactory,
    VisitFactory,
)
from ..outcomes.factories import OutcomeScoreFactory
from ..test_url_isolation import iter_patterns
from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}  # an iPhone 12 to 15, in CSS pixels
SMALLEST_TOUCH_TARGET = 44  # px: Apple's guideline, and WCAG 2.2's enhanced target size
USERNAMES = {
    Role.FRONT_DESK: "summit.frontdesk",
    Role.THERAPIST: "summit.therapist",
    Role.LIAISON: "summit.liaison",
    Role.ADMIN: "summit.admin",
}
# Words no line can hold whole, as people paste them.
LONG_WORD = "Orthopaedic-and-Sports-Medicine-Rehabilitation-Associates-of-the-Front-Range"
LONG_EMAIL = "referral.coordinator.orthopaedics@front-range-orthopaedic-associates.example.org"
LONG_URL = "https://www.front-range-orthopaedics.example.org/referrals/physical-therapy/forms?ref=outreach"

# For an element that widens the page: the outermost one reaching furthest right,
# among those no scrolling or clipping ancestor holds in. An absolutely positioned
# element is held only by ancestors from its containing block up.
OVERFLOW_SCRIPT = """() => {
  const width = window.innerWidth;
  const scrollWidth = document.scrollingElement.scrollWidth;
  if (scrollWidth <= width) return null;
  const held = (element) => {
    let position = getComputedStyle(element).position;
    if (position === "fixed") return true;
    for (let parent = element.parentElement; parent !== document.body; parent = parent.parentElement) {
      const style = getComputedStyle(parent);
      if (position === "absolute" && style.position === "static") continue;
      if (style.overflowX !== "visible") return true;
      position = style.position;
    }
    return false;
  };
  const describe = (element) =>
    element.tagName.toLowerCase() + (element.id ? "#" + element.id : "")
    + [...element.classList].map((name) => "." + name).join("");
  let widest = null;
  let right = width;
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    if (box.width && box.right + window.scrollX > right + 0.5 && !held(element)) {
      widest = element;
      right = box.right + window.scrollX;
    }
  }
  if (!widest) return {scrollWidth, widest: "(none found)"};
  const path = [];
  for (let element = widest; element !== document.body && path.length < 4; element = element.parentElement) {
    path.unshift(describe(element));
  }
  const text = (widest.innerText || widest.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 60);
  return {scrollWidth, widest: `${path.join(" > ")} (to ${Math.round(right)} px) "${text}"`};
}"""

SMALL_BUTTONS_SCRIPT = """(smallest) => [...document.querySelectorAll(".btn")]
  .filter((button) => button.offsetParent !== null && button.getBoundingClientRect().width > 1)
  .map((button) => [button.getBoundingClientRect().height, (button.innerText || "").trim().slice(0, 40)])
  .filter(([height]) => height && height < smallest - 0.5)
  .map(([height, label]) => `"${label}" ${Math.round(height)} px`)"""

# Buttons a scrolling table holds beyond its right edge: there, on a phone, nobody knows to scroll for them.
HIDDEN_BUTTONS_SCRIPT = """() => [...document.querySelectorAll(".table-responsive .btn")]
  .filter((button) => button.offsetParent !== null && button.getBoundingClientRect().width > 1)
  .filter((button) => button.getBoundingClientRect().right
    > button.closest(".table-responsive").getBoundingClientRect().right + 0.5)
  .map((button) => `"${(button.innerText || "").trim().slice(0, 40)}"`)"""


@dataclass(frozen=True)
class Samples:
    """What the walk fills URLs with: an object's id for each URL keyword, and three tokens' owners."""

    ids: dict[str, int]
    password_reset_user: User
    unsubscribe_token: str
    letter_link: str
    survey_token: str


def make_samples(summit: Organization, admin: Membership) -> Samples:
    """The demo's richest objects, with long unbroken words where people type them."""
    physician = (
        Physician.objects.filter(organization=summit, affiliations__is_primary=True)
        .annotate(
            gatekeepers=Count("affiliations__practice__gatekeepers", distinct=True),
            open_flags=Count("flags", filter=Q(flags__closed_at__isnull=True), distinct=True),
            touch_count=Count("touches", distinct=True),
        )
        .order_by("-gatekeepers", "-open_flags", "-touch_count", "pk")[0]
    )
    practice = physician.affiliations.get(is_primary=True).practice
    gatekeeper = practice.gatekeepers.order_by("pk")[0]
    Practice.objects.filter(pk=practice.pk).update(name=f"{practice.name} {LONG_WORD}", website=LONG_URL)
    Gatekeeper.objects.filter(pk=gatekeeper.pk).update(email=LONG_EMAIL, notes=LONG_URL)
    Physician.objects.filter(pk=physician.pk).update(email=LONG_EMAIL, what_matters=LONG_URL)
    latest_touch = physician.touches.latest("occurred_at")
    Touch.objects.filter(pk=latest_touch.pk).update(notes=f"Left the new forms: {LONG_URL}")

    referral = (
        Referral.objects.filter(organization=summit, plans_of_care__isnull=False)
        .annotate(changes=Count("status_changes"))
        .order_by("-changes", "pk")[0]
    )
    document = ReferralDocumentFactory(organization=summit, referral=referral)
    offering = ServiceOffering.objects.filter(organization=summit, is_active=True).order_by("pk")[0]
    announcement = announcement_send(
        organization=summit,
        user=admin.user,
        offering=offering,
        subject=f"New at {offering.clinic.name}: {offering.name}",
        message=f"Referral forms: {LONG_URL}",
        taxonomy_codes=[],
        population_ids=list(offering.populations.values_list("pk", flat=True)),
        request_key=uuid.uuid4(),
    )
    # The announcement's email, which offers an unsubscribe link (a letter's does not).
    email = OutboundEmail.objects.filter(organization=summit).exclude(unsubscribe_token="").order_by("pk")[0]
    unanswered = (
        Referral.objects.filter(organization=summit, status=Status.DISCHARGED)
        .exclude(pk__in=NpsResponse.objects.values("referral_id"))
        .order_by("pk")[0]
    )
    ids = {
        "organization_id": summit.pk,
        "clinic_id": offering.clinic_id,
        "membership_id": Membership.objects.get(user__username=USERNAMES[Role.LIAISON]).pk,
        "payer_id": Payer.objects.filter(organization=summit).order_by("pk")[0].pk,
        "offering_id": offering.pk,
        "physician_id": physician.pk,
        "practice_id": practice.pk,
        "gatekeeper_id": gatekeeper.pk,
        "import_id": NppesImportFactory(organization=summit, original_name=f"{LONG_WORD}.csv").pk,
        "referral_id": referral.pk,
        "document_id": document.pk,
        "plan_id": referral.plans_of_care.order_by("pk")[0].pk,
        "touch_id": physician.touches.order_by("pk")[0].pk,
        "followup_id": FollowUp.objects.filter(organization=summit).order_by("pk")[0].pk,
        "announcement_id": announcement.pk,
        "email_id": email.pk,
        "visit_id": VisitFactory(organization=summit, referral=referral).pk,
        "payment_id": PaymentFactory(organization=summit, referral=referral).pk,
        "billing_import_id": BillingImportFactory(organization=summit, original_name=f"{LONG_WORD}.csv").pk,
        "review_id": ReviewRowFactory(organization=summit).pk,
        "score_id": OutcomeScoreFactory(organization=summit, referral=referral, phase=Phase.PROGRESS).pk,
        "export_id": ReferralExportFactory(
            organization=summit, requested_by=admin.user, filters_description=f"Referrals from {LONG_WORD}"
        ).pk,
        "organization_export_id": OrganizationExport.objects.create(
            organization=summit, requested_by=admin.user, expires_at=timezone.now()
        ).pk,
    }
    # The letter with the most to show: a discharge summary with outcome changes, sent by email.
    letter = (
        Letter.objects.filter(organization=summit, kind=LetterKind.DISCHARGE, status=LetterStatus.EMAILED)
        .exclude(content__outcomes=[])
        .order_by("pk")[0]
    )
    ids["letter_id"] = letter.pk
    return Samples(
        ids=ids,
        password_reset_user=admin.user,
        unsubscribe_token=email.unsubscribe_token,
        letter_link=urlsplit(letter_link(letter)).path,
        survey_token=nps_survey_link(acting=admin, referral=unanswered),
    )


def url_for(name: str, pattern, samples: Samples) -> str:
    keywords = set(pattern.pattern.converters)
    if name == "password_reset_confirm":
        user = samples.password_reset_user
        kwargs = {
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        }
    elif name == "outbox:unsubscribe":
        kwargs = {"token": samples.unsubscribe_token}
    elif name == "letters:read":
        return samples.letter_link
    elif name == "outcomes:survey":
        kwargs = {"token": samples.survey_token}
    elif name == "outreach:calendar_feed":
        kwargs = {"token": "any"}  # a calendar file, never a page, whatever its token
    else:
        kwargs = {keyword: samples.ids[keyword] for keyword in keywords}
    return reverse(name, kwargs=kwargs)


def answers_with_a_page(response) -> bool:
    return response.status_code == 200 and response["Content-Type"].startswith("text/html")


def pages_by_visitor(samples: Samples) -> dict[Role | None, list[tuple[str, str]]]:
    """(name, URL) of every page, for each role that may open it; None: signed out.

    Django answers first, in process: POST-only actions (405), downloads and
    feeds are not pages; a page open to everyone is visited signed out only.
    """
    anonymous, admin = Client(), Client()
    admin.force_login(Membership.objects.get(user__username=USERNAMES[Role.ADMIN]).user)
    visits: dict[Role | None, list[tuple[str, str]]] = {None: [], **{role: [] for role in USERNAMES}}
    login_url = reverse("login")
    for name, pattern in iter_patterns():
        url = url_for(name, pattern, samples)
        signed_out = anonymous.get(url)
        # A password-reset link leads on to its form: a page too.
        if answers_with_a_page(signed_out) or (
            signed_out.status_code == 302 and not signed_out.url.startswith(login_url)
        ):
            visits[None].append((name, url))
        elif answers_with_a_page(admin.get(url)):
            roles = getattr(pattern.callback, "allowed_roles", USERNAMES)
            for role in roles:
                visits[role].append((name, url))
    # What a person meets by mistake: a page outside their role, an address that leads nowhere.
    visits[Role.FRONT_DESK].append(("403 page", reverse("outreach:attention")))
    visits[Role.LIAISON].append(("404 page", reverse("physicians:detail", args=[987654321])))
    return visits


def test_no_page_scrolls_sideways_on_a_phone(browser, live_server, demo, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    summit = Organization.objects.get(slug="summit")
    samples = make_samples(summit, Membership.objects.get(user__username=USERNAMES[Role.ADMIN]))
    visits = pages_by_visitor(samples)
    started = time.monotonic()

    overflowing: list[str] = []
    small_buttons: list[str] = []
    hidden_buttons: list[str] = []
    visited = 0
    for role, pages in visits.items():
        context = browser.new_context(viewport=PHONE)
        page = context.new_page()
        if role is not None:
            sign_in(page, live_server, USERNAMES[role])
        for name, url in pages:
            page.goto(f"{live_server.url}{url}")
            visited += 1
            who = role.label if role else "signed out"
            if problem := page.evaluate(OVERFLOW_SCRIPT):
                overflowing.append(
                    f"{name} ({url}) as {who}: {problem['scrollWidth']} px wide; widest {problem['widest']}"
                )
            if buttons := page.evaluate(SMALL_BUTTONS_SCRIPT, SMALLEST_TOUCH_TARGET):
                small_buttons.append(f"{name} ({url}) as {who}: {', '.join(buttons)}")
            if buttons := page.evaluate(HIDDEN_BUTTONS_SCRIPT):
                hidden_buttons.append(f"{name} ({url}) as {who}: {', '.join(buttons)}")
        context.close()

    print(f"{visited} pages at {PHONE['width']} px in {time.monotonic() - started:.1f} s")
    walked = {name for pages in visits.values() for name, _ in pages}
    assert walked >= {"login", "physicians:detail", "outreach:touch_list", "outreach:touch_create"}
    assert not overflowing, "Pages wider than a 390 px phone:\n" + "\n".join(overflowing)
    assert not small_buttons, "Buttons under 44 px tall on a phone:\n" + "\n".join(small_buttons)
    assert not hidden_buttons, "Buttons beyond a phone's right edge:\n" + "\n".join(hidden_buttons)


@pytest.fixture
def busy_physician(summit):
    """A physician with a header as long as they come: flags of both kinds, two gatekeepers, touches."""
    practice = PracticeFactory(
        organization=summit,
        name="Front Range Orthopaedic and Sports Medicine Associates",
        phone="(303) 555-0167",
        fax="(303) 555-0272",
    )
    physician = AffiliationFactory(
        organization=summit,
        practice=practice,
        physician__first_name="Alexandra",
        physician__last_name="Montgomery-Castellanos",
        physician__taxonomy_code="207XS0117X",  # orthopaedic surgery of the spine: a long specialty
    ).physician
    for first_name, role, extension in (
        ("Denise", GatekeeperRole.REFERRAL_COORDINATOR, "252"),
        ("Rosa", GatekeeperRole.OFFICE_MANAGER, "127"),
    ):
        GatekeeperFactory(
            organization=summit,
            practice=practice,
            first_name=first_name,
            role=role,
            phone="(303) 555-0167",
            extension=extension,
            email=f"{first_name.lower()}.referrals@frontrange-ortho.example.org",
        )
    TouchFactory(
        organization=summit, physician=physician, occurred_at=timezone.now() - datetime.timedelta(days=70)
    )
    since = (timezone.localdate() - datetime.timedelta(days=70)).isoformat()
    FlagFactory(
        organization=summit,
        physician=physician,
        evidence={"since": since, "cadence_days": 30, "ever": True},
    )
    FlagFactory(
        organization=summit,
        physician=physician,
        kind=FlagKind.REFERRALS_DECLINING,
        severity=FlagSeverity.LAPSED,
        evidence={"recent": 1, "expected": 6.5, "baseline": 39},
    )
    return physician


@pytest.mark.parametrize("role", [Role.LIAISON, Role.THERAPIST, Role.ADMIN])
def test_a_physicians_page_puts_log_a_touch_and_whom_to_call_on_the_first_screen(
    browser, live_server, summit, busy_physician, role
):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    sign_in(page, live_server, MembershipFactory(organization=summit, role=role).user.username, TEST_PASSWORD)
    page.goto(f"{live_server.url}{reverse('physicians:detail', args=[busy_physician.pk])}")

    contacts = page.get_by_role("region", name="Practices and gatekeepers")
    targets = {
        "Log a touch": page.get_by_role("link", name=f"Log a touch with {busy_physician.display_name}"),
        "the practice's phone": contacts.locator(".phone").filter(has_text="Phone"),
    }
    for gatekeeper in Gatekeeper.objects.filter(practice__affiliations__physician=busy_physician):
        item = contacts.get_by_role("listitem").filter(has_text=str(gatekeeper))
        targets[f"{gatekeeper}'s phone"] = item.locator(".phone")
        targets[f"{gatekeeper}'s email"] = item.get_by_text(gatekeeper.email)
    assert page.get_by_text("Referrals declining").is_visible()  # the header is at its longest
    for what, locator in targets.items():
        box = locator.bounding_box()
        assert box is not None, f"{what} is not shown"
        bottom = box["y"] + box["height"]
        assert bottom <= PHONE["height"], f"{what} ends {bottom:.0f} px down, below the first screen"
    context.close()


def test_touch_kinds_are_large_enough_to_tap(browser, live_server, summit):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    sign_in(
        page,
        live_server,
        MembershipFactory(organization=summit, role=Role.LIAISON).user.username,
        TEST_PASSWORD,
    )
    page.goto(f"{live_server.url}{reverse('outreach:touch_create')}")

    kinds = page.get_by_role("group", name="Kind").locator("label")
    heights = {kinds.nth(i).inner_text(): kinds.nth(i).bounding_box()["height"] for i in range(kinds.count())}
    assert set(heights) >= {"Office visit", "Lunch", "Call", "Email", "Letter", "In-service", "Event", "Gift"}
    assert min(heights.values()) >= SMALLEST_TOUCH_TARGET, heights

    page.get_by_text("Call", exact=True).click()
    assert page.get_by_role("radio", name="Call").is_checked()
    context.close()
