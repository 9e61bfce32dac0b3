"""Two-factor sign-in: enrolment, the code after the password, recovery codes, lockout, who must use it."""

import re

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinics.models import Role, SecondFactorReset
from clinics.two_factor import GIVEN, RECOVERY_CODES, SESSION_KEY, security_settings_update

from ..factories import TEST_PASSWORD


@pytest.fixture(autouse=True)
def _enforced(settings):
    """The requirement applies, as in production (the suite at large runs with the demo's exemption)."""
    settings.TWO_FACTOR_DEMO_EXEMPT = False


def current_code(device: TOTPDevice) -> str:
    return f"{TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token():06d}"


def sign_in(client, membership, **extra):
    return client.post(
        reverse("login"), {"username": membership.user.username, "password": TEST_PASSWORD, **extra}
    )


def code_given(client):
    """Marks `client`'s session as past its second step, as a session that gave its code is."""
    session = client.session
    session[SESSION_KEY] = GIVEN
    session.save()
    return client


def enrol(client) -> tuple[TOTPDevice, list[str]]:
    """Goes through enrolment in `client`'s session; returns the device and the recovery codes shown."""
    page = client.get(reverse("clinics:two_factor_enrol"))
    assert b"<svg" in page.content
    device = TOTPDevice.objects.get(user=page.wsgi_request.user, confirmed=False)
    shown = client.post(reverse("clinics:two_factor_enrol"), {"code": current_code(device)})
    codes = re.findall(r'<li class="col">(\w+)</li>', shown.content.decode())
    device.refresh_from_db()
    # The code just used may not be used again (RFC 6238): the next step's code is the next one.
    device.last_t = -1
    device.save()
    return device, codes


def test_an_admin_without_an_authenticator_is_sent_to_enrol_before_anything_else(client, summit_admin):
    sign_in(client, summit_admin)

    response = client.get(reverse("referrals:list"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("clinics:two_factor_enrol"))
    assert client.get(reverse("clinics:two_factor_enrol")).status_code == 200


def test_enrolment_turns_it_on_and_shows_recovery_codes_once(client, summit_admin):
    sign_in(client, summit_admin)

    device, codes = enrol(client)

    assert device.confirmed
    assert len(codes) == RECOVERY_CODES
    assert client.get(reverse("referrals:list")).status_code == 200  # this session gave its code
    page = client.get(reverse("clinics:two_factor_enrol")).content.decode()
    assert not any(code in page for code in codes)
    assert f"{RECOVERY_CODES} recovery codes left" in page


def test_a_wrong_enrolment_code_turns_nothing_on(client, summit_admin):
    sign_in(client, summit_admin)
    client.get(reverse("clinics:two_factor_enrol"))

    response = client.post(reverse("clinics:two_factor_enrol"), {"code": "000000"})

    assert b"not the one your app shows now" in response.content
    assert not TOTPDevice.objects.filter(user=summit_admin.user, confirmed=True).exists()


def test_sign_in_asks_for_the_code_after_the_password(client, client_factory, summit_admin):
    sign_in(client, summit_admin)
    device, _ = enrol(client)
    browser = client_factory()

    response = sign_in(browser, summit_admin, next="/referrals/")
    followed = browser.get(response.url)

    assert followed.status_code == 302
    assert followed.url == f"{reverse('clinics:two_factor_verify')}?next=%2Freferrals%2F"
    assert browser.post(followed.url, {"code": "123456"}).status_code == 200  # wrong: asked again
    assert browser.get(reverse("home")).status_code == 302
    device.refresh_from_db()
    device.throttle_reset()  # the app's own delay after a wrong code, not what this test is about
    done = browser.post(followed.url, {"code": current_code(device), "next": "/referrals/"})
    assert done.status_code == 302
    assert done.url == "/referrals/"
    assert browser.get(reverse("referrals:list")).status_code == 200


def test_a_recovery_code_works_once(client, client_factory, summit_admin):
    sign_in(client, summit_admin)
    _, codes = enrol(client)
    verify = reverse("clinics:two_factor_verify")

    first = client_factory()
    sign_in(first, summit_admin)
    assert first.post(verify, {"code": codes[0]}).status_code == 302
    assert first.get(reverse("home")).status_code == 200

    second = client_factory()
    sign_in(second, summit_admin)
    assert second.post(verify, {"code": codes[0]}).status_code == 200
    assert b"That code is not right" in second.post(verify, {"code": codes[0]}).content
    assert StaticToken.objects.filter(device__user=summit_admin.user).count() == RECOVERY_CODES - 1


def test_guessing_codes_locks_the_sign_in_out(client, client_factory, summit_admin):
    sign_in(client, summit_admin)
    device, _ = enrol(client)
    guesser = client_factory()
    sign_in(guesser, summit_admin)

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert guesser.post(reverse("clinics:two_factor_verify"), {"code": "000000"}).status_code == 200
    locked = guesser.post(reverse("clinics:two_factor_verify"), {"code": "000000"})

    assert locked.status_code == 429
    assert b"Too many sign-in attempts" in locked.content
    assert guesser.get(reverse("home")).url.startswith(reverse("login"))  # signed out
    # The right password no longer even opens the code page.
    assert sign_in(guesser, summit_admin).status_code == 429
    assert device.user_id == summit_admin.user_id


def test_the_organization_can_require_it_of_everyone(client, summit, summit_front_desk):
    sign_in(client, summit_front_desk)
    assert client.get(reverse("referrals:list")).status_code == 200

    security_settings_update(organization=summit, require_two_factor=True)

    response = client.get(reverse("referrals:list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("clinics:two_factor_enrol"))


def test_the_setting_is_on_the_settings_page(admin_client, summit):
    code_given(admin_client)

    page = admin_client.get(reverse("clinics:organization_settings")).content.decode()

    assert "Require two-factor sign-in for everyone" in page


def test_others_need_no_second_factor_unless_they_enrolled(client, summit_front_desk):
    sign_in(client, summit_front_desk)

    assert client.get(reverse("referrals:list")).status_code == 200


def test_another_admin_resets_a_lost_authenticator(client, client_factory, summit, member_factory):
    member = member_factory(summit, Role.THERAPIST)
    sign_in(client, member)
    enrol(client)
    colleague = member_factory(summit, Role.ADMIN)
    admin = client_factory()
    admin.force_login(colleague.user)
    code_given(admin)

    response = admin.post(reverse("clinics:staff_two_factor_reset", args=[member.pk]))

    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=member.user).exists()
    assert not StaticToken.objects.filter(device__user=member.user).exists()
    reset = SecondFactorReset.objects.get()
    assert (reset.organization, reset.user, reset.reset_by) == (summit, member.user, colleague.user)
    assert "Last reset" in admin.get(reverse("clinics:staff_edit", args=[member.pk])).content.decode()
    fresh = client_factory()
    sign_in(fresh, member)
    assert fresh.get(reverse("home")).status_code == 200  # a therapist: no code owed any more


def test_an_admin_cannot_reset_their_own_or_another_organizations(
    client, summit, harbor_admin, summit_admin, login
):
    session_client = code_given(login(summit_admin))

    session_client.post(reverse("clinics:staff_two_factor_reset", args=[summit_admin.pk]))
    assert (
        session_client.post(reverse("clinics:staff_two_factor_reset", args=[harbor_admin.pk])).status_code
        == 404
    )

    assert not SecondFactorReset.objects.exists()


def test_the_demo_exemption_lets_admins_in_without_a_second_factor(client, settings, summit_admin):
    settings.TWO_FACTOR_DEMO_EXEMPT = True
    sign_in(client, summit_admin)

    assert client.get(reverse("referrals:list")).status_code == 200


def test_the_demo_exemption_never_skips_an_enrolled_persons_code(
    client, client_factory, settings, summit_admin
):
    sign_in(client, summit_admin)
    enrol(client)
    settings.TWO_FACTOR_DEMO_EXEMPT = True
    browser = client_factory()

    sign_in(browser, summit_admin)

    assert browser.get(reverse("home")).url.startswith(reverse("clinics:two_factor_verify"))


def test_the_deploy_check_refuses_the_demo_exemption(settings):
    settings.TWO_FACTOR_DEMO_EXEMPT = True

    with pytest.raises(SystemCheckError, match="TWO_FACTOR_DEMO_EXEMPT"):
        call_command("check", "--deploy", "--fail-level", "ERROR", tags=["security"])


def test_the_deploy_check_passes_without_it(settings):
    settings.TWO_FACTOR_DEMO_EXEMPT = False
    from clinics.two_factor import demo_exemption_off_in_production

    assert demo_exemption_off_in_production() == []


def test_the_admin_site_is_no_way_around_the_code(client, summit_admin):
    summit_admin.user.is_staff = summit_admin.user.is_superuser = True
    summit_admin.user.save()
    sign_in(client, summit_admin)
    enrol(client)
    browser = Client()

    sign_in(browser, summit_admin)

    assert browser.get("/admin/").url.startswith(reverse("clinics:two_factor_verify"))
