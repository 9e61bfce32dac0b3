import re

import pytest

from .conftest import sign_in

# The live server runs in another thread, so the data must be committed.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_front_desk_signs_in_and_lands_on_the_work_waiting(page, live_server, demo):
    sign_in(page, live_server, "summit.frontdesk")

    assert page.url == f"{live_server.url}/"
    assert page.get_by_role("heading", name="What needs you now").is_visible()
    assert page.get_by_role("heading", name="Patients to reach").is_visible()
    page.get_by_role("link", name=re.compile(r"^\d+ late for the first call$")).click()
    page.get_by_role("heading", name="Needs contact: late for the first call").wait_for()
    assert page.get_by_role("link", name="Staff").count() == 0
    assert page.console_errors == []


def test_on_a_phone_a_liaisons_menu_leads_with_attention_and_follow_ups(page, live_server, demo):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, "summit.liaison")

    page.get_by_role("button", name="Toggle navigation").click()
    page.get_by_role("link", name="Attention").wait_for()
    links = page.locator("#main-nav .navbar-nav.me-auto .nav-link")
    tops = links.evaluate_all(
        "links => links.map(l => [l.textContent.trim(), l.getBoundingClientRect().top])"
    )
    shown = [label for label, _ in sorted(tops, key=lambda pair: pair[1])]

    assert shown[:3] == ["Attention", "Follow-ups", "New referral"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.console_errors == []


def test_admin_sees_staff_and_signs_out_from_the_menu(page, live_server, demo):
    sign_in(page, live_server, "summit.admin")
    page.get_by_role("button", name="Avery Nguyen").click()
    page.get_by_role("link", name="Staff", exact=True).click()
    page.get_by_role("heading", name="Staff").wait_for()
    assert page.get_by_role("cell", name="summit.frontdesk").is_visible()

    page.get_by_role("button", name="Avery Nguyen").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))
    assert page.console_errors == []


def test_wrong_password_is_explained_in_the_page(page, live_server, demo):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("summit.frontdesk")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    assert page.get_by_text("Please enter a correct username and password").is_visible()


def test_typeahead_finds_and_opens_a_physician_with_the_keyboard_alone(page, live_server, demo):
    from physicians.models import Physician

    physician = (
        Physician.objects.filter(organization__slug="summit").order_by("last_name", "first_name").first()
    )
    sign_in(page, live_server, "summit.frontdesk")
    page.goto(f"{live_server.url}/directory/")

    box = page.get_by_role("combobox", name="Jump to a physician")
    box.focus()
    page.keyboard.type(physician.last_name[:4])
    page.get_by_role("option").first.wait_for()
    assert box.get_attribute("aria-expanded") == "true"
    page.keyboard.press("ArrowDown")
    assert page.get_by_role("option").first.get_attribute("aria-selected") == "true"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/directory/{physician.pk}/")

    assert page.get_by_role("heading", name=physician.display_name).is_visible()
    assert page.console_errors == []


def test_front_desk_logs_a_referral_with_the_keyboard_alone(page, live_server, demo):
    from physicians.models import Physician
    from referrals.models import Referral

    physician = (
        Physician.objects.filter(organization__slug="summit").order_by("last_name", "first_name").first()
    )
    sign_in(page, live_server, "summit.frontdesk")
    page.goto(f"{live_server.url}/referrals/new/")
    keyboard = page.keyboard

    # The physician search has the focus when the page opens; from there on, only keys.
    keyboard.type(physician.last_name[:5])
    page.locator("#referral-physician-results").get_by_role("option").first.wait_for()
    keyboard.press("ArrowDown")
    keyboard.press("Enter")
    assert page.locator("input[name=physician]").input_value() == str(physician.pk)
    for _ in range(3):  # past "add a physician" and the source name, to the patient
        keyboard.press("Tab")
    keyboard.type("Robin")
    keyboard.press("Tab")
    keyboard.type("Keyboard")
    keyboard.press("Tab")
    keyboard.type("03/14/1975")
    keyboard.press("Tab")
    keyboard.type("303-555-0142")
    keyboard.press("Tab")
    keyboard.press("Tab")  # no email
    keyboard.press("Tab")  # no patient account number
    keyboard.type("m5450")
    keyboard.press("Enter")
    page.get_by_text(re.compile(r"Referral #\d+ logged")).wait_for()

    referral = Referral.objects.get(patient_last_name="Keyboard")
    assert referral.physician == physician
    assert referral.diagnosis_codes == ["M54.50"]
    assert str(referral.patient_birth_date) == "1975-03-14"
    assert page.get_by_text(f"Referral #{referral.number} logged").is_visible()
    assert page.get_by_label("Patient last name").input_value() == ""
    assert page.console_errors == []


def test_liaison_logs_a_touch_from_attention_in_one_click(page, live_server, demo):
    sign_in(page, live_server, "summit.liaison")
    page.get_by_role("link", name="Attention").click()
    page.get_by_role("heading", name="Sources needing attention").wait_for()
    rows = page.locator("li.list-group-item")
    # A touch renews contact; a decline in referrals stays until they come back.
    lapsed_only = rows.filter(has_not_text="Referrals declining").first
    lapsed_id = lapsed_only.get_attribute("id")
    declining = rows.filter(has_text="Referrals declining").first
    declining_id = declining.get_attribute("id")
    url = page.url

    lapsed_only.get_by_role("button", name="Log touch").click()
    left = page.locator(f"#{lapsed_id}")
    left.get_by_text("They are off the Attention list.").wait_for()
    declining.get_by_role("button", name="Log touch").click()
    stayed = page.locator(f"#{declining_id}")
    stayed.get_by_text("Called today by you").wait_for()

    assert page.url == url  # answered in place, no reload
    assert left.get_by_role("button", name="Log touch").count() == 0
    assert stayed.get_by_text("A referral decline clears only when their referrals come back").is_visible()
    assert stayed.get_by_role("button", name="Log touch").is_visible()
    assert page.console_errors == []


def test_an_attached_fax_survives_the_same_patient_warning(page, live_server, demo, settings, tmp_path):
    from referrals.models import Referral

    settings.MEDIA_ROOT = tmp_path
    fax = {"name": "fax.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.7\n%%EOF\n"}
    sign_in(page, live_server, "summit.frontdesk")

    def submit_new_referral():
        page.goto(f"{live_server.url}/referrals/new/")
        page.locator("#id_source_type").select_option("direct_access")
        page.locator("#id_patient_first_name").fill("Robin")
        page.locator("#id_patient_last_name").fill("Twice")
        page.locator("#id_patient_birth_date").fill("03/14/1975")
        page.locator("#id_patient_phone").fill("303-555-0142")
        page.locator("#id_document").set_input_files(fax)
        page.locator("#id_patient_phone").press("Enter")

    submit_new_referral()
    page.get_by_text(re.compile(r"Referral #\d+ logged")).wait_for()
    submit_new_referral()
    page.get_by_text("This patient was referred on").wait_for()

    assert page.get_by_text("fax.pdf attached — kept").is_visible()
    assert page.locator("#id_document").input_value() == ""  # the browser forgot the file
    page.get_by_label("This is a new referral for the same patient; save it").check()
    page.keyboard.press("Enter")
    page.get_by_text(re.compile(r"Referral #\d+ logged")).wait_for()

    first, second = Referral.objects.filter(patient_last_name="Twice").order_by("pk")
    assert [first.documents.count(), second.documents.count()] == [1, 1]
    assert second.documents.get().file.read() == fax["buffer"]
    assert page.console_errors == []
