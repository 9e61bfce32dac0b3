"""Which role may open which page: the table below is the specification.

Each view declares its roles with @staff_view; this test checks the
declarations against the table and the real responses against both.
"""

import pytest
from django.urls import reverse

from clinics.models import Role

from .test_url_isolation import iter_patterns, url_kwargs

EVERYONE = set(Role.values)
ADMIN = {Role.ADMIN}
EDITORS = {Role.LIAISON, Role.ADMIN}
# Everyone who courts sources: liaisons and admins, and therapists, who give in-services.
OUTREACH = {Role.THERAPIST, Role.LIAISON, Role.ADMIN}
# Who records visits and payments by hand, care notes, outcome scores and NPS, and reviews letters.
CARE = {Role.THERAPIST, Role.ADMIN}
# Who reads outcomes by source: those who court physicians, and those who treat.
SCORECARDS = {Role.THERAPIST, Role.LIAISON, Role.ADMIN}
# Who prints letters and marks them sent.
SENDERS = {Role.FRONT_DESK, Role.THERAPIST, Role.ADMIN}
# The pipeline's dashboard: the front desk sees it, and nothing else of the dashboards.
PIPELINE = {Role.FRONT_DESK, Role.LIAISON, Role.ADMIN}

EXPECTED_ROLES = {
    "home": EVERYONE,
    "clinics:list": EVERYONE,
    "clinics:create": ADMIN,
    "clinics:edit": ADMIN,
    "clinics:staff_list": ADMIN,
    "clinics:staff_create": ADMIN,
    "clinics:staff_edit": ADMIN,
    "clinics:staff_deactivate": ADMIN,
    "clinics:staff_reactivate": ADMIN,
    "clinics:staff_two_factor_reset": ADMIN,
    "clinics:two_factor_enrol": EVERYONE,
    "clinics:two_factor_verify": EVERYONE,
    "clinics:switch_organization": EVERYONE,
    "clinics:payer_list": ADMIN,
    "clinics:payer_create": ADMIN,
    "clinics:payer_edit": ADMIN,
    "clinics:service_list": EVERYONE,
    "clinics:service_create": ADMIN,
    "clinics:service_edit": ADMIN,
    "physicians:list": EVERYONE,
    "physicians:search": EVERYONE,
    "physicians:detail": EVERYONE,
    "physicians:practice_list": EVERYONE,
    "physicians:practice_detail": EVERYONE,
    "physicians:prospects": EDITORS,
    "physicians:export": EDITORS,
    "physicians:create": EDITORS,
    "physicians:edit": EDITORS,
    "physicians:stage": EDITORS,
    "physicians:toggle_active": EDITORS,
    "physicians:practice_create": EDITORS,
    "physicians:practice_edit": EDITORS,
    "physicians:practice_toggle_active": EDITORS,
    "physicians:gatekeeper_create": EDITORS,
    "physicians:gatekeeper_edit": EDITORS,
    "physicians:merge": ADMIN,
    "physicians:import_list": ADMIN,
    "physicians:import_detail": ADMIN,
    "referrals:list": EVERYONE,
    "referrals:intake": EVERYONE,
    "referrals:queues": EVERYONE,
    "referrals:patient_search": EVERYONE,
    "referrals:bulk_transition": EVERYONE,
    "referrals:detail": EVERYONE,
    "referrals:transition": EVERYONE,
    "referrals:reschedule": EVERYONE,
    "referrals:contact_attempt_log": EVERYONE,
    "referrals:plan_create": EVERYONE,
    "referrals:plan_update": EVERYONE,
    "referrals:plans_awaiting": EVERYONE,
    "referrals:document": EVERYONE,
    "referrals:document_add": EVERYONE,
    "referrals:board": EVERYONE,
    "referrals:retention": ADMIN,
    "referrals:export": ADMIN,
    "referrals:export_detail": ADMIN,
    "referrals:export_download": ADMIN,
    "billing:visit_create": CARE,
    "billing:visit_edit": CARE,
    "billing:visit_remove": CARE,
    "billing:payment_create": CARE,
    "billing:payment_edit": CARE,
    "billing:payment_remove": CARE,
    "billing:import_list": ADMIN,
    "billing:import_detail": ADMIN,
    "billing:review_list": ADMIN,
    "billing:review_resolve": ADMIN,
    "outcomes:care_note_create": CARE,
    "outcomes:nps_create": CARE,
    "outcomes:survey_link": CARE,
    "outcomes:survey_email": CARE,
    "outcomes:score_remove": CARE,
    "outcomes:scorecards": SCORECARDS,
    "outcomes:organization_scorecard": SCORECARDS,
    "outcomes:physician_scorecard": SCORECARDS,
    "clinics:organization_settings": ADMIN,
    "clinics:data_export": ADMIN,
    "clinics:data_export_request": ADMIN,
    "clinics:data_export_detail": ADMIN,
    "clinics:data_export_download": ADMIN,
    "outreach:touch_list": OUTREACH,
    "outreach:touch_create": OUTREACH,
    "outreach:touch_remove": OUTREACH,
    "outreach:followups": OUTREACH,
    "outreach:followup_complete": OUTREACH,
    "outreach:followup_log_touch": OUTREACH,
    "outreach:followup_snooze": OUTREACH,
    "outreach:calendar_settings": OUTREACH,
    "outreach:attention": EDITORS,
    "outreach:attention_log": EDITORS,
    "outreach:activity": EDITORS,
    "announcements:list": ADMIN,
    "announcements:create": ADMIN,
    "announcements:detail": ADMIN,
    "outbox:log": ADMIN,
    "audit:search": ADMIN,
    "audit:export": ADMIN,
    "outbox:detail": ADMIN,
    "outbox:retry": ADMIN,
    "letters:list": EVERYONE,
    "letters:loop": EVERYONE,
    "letters:detail": EVERYONE,
    "letters:review": CARE,
    "letters:edit": CARE,
    "letters:approve": CARE,
    "letters:withdraw": CARE,
    "letters:to_send": SENDERS,
    "letters:mark_sent": SENDERS,
    "letters:print": SENDERS,
    # Revenue is for admins only; liaisons see sources, outreach and plans; the front desk the pipeline;
    # therapists the outcomes of their own caseload.
    "analytics:index": EVERYONE,
    "analytics:pipeline": PIPELINE,
    "analytics:pipeline_export": PIPELINE,
    "analytics:sources": EDITORS,
    "analytics:sources_export": EDITORS,
    "analytics:revenue": ADMIN,
    "analytics:revenue_export": ADMIN,
    "analytics:outreach": EDITORS,
    "analytics:outreach_export": EDITORS,
    "analytics:outcomes": SCORECARDS,
    "analytics:outcomes_export": SCORECARDS,
    "analytics:plans": EDITORS,
    "analytics:plans_export": EDITORS,
    # Everyone but the front desk gets a weekly digest; admins see who receives what and may send theirs now.
    "digests:mine": OUTREACH,
    "digests:view": OUTREACH,
    "digests:preferences": OUTREACH,
    "digests:send_test": ADMIN,
    "digests:recipients": ADMIN,
}
# Pages anyone may reach, signed in or not.
PUBLIC = {
    "login",
    "logout",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "healthz",
    "outreach:calendar_feed",
    "outbox:unsubscribe",
    "letters:read",
    "outcomes:survey",
}
# Account pages every signed-in user has, whatever their role.
ACCOUNT = {"password_change", "password_change_done"}


def staff_patterns():
    return {name: pattern for name, pattern in iter_patterns() if name not in PUBLIC | ACCOUNT}


def test_every_staff_view_declares_its_roles_and_matches_the_table():
    declared = {
        name: set(getattr(pattern.callback, "allowed_roles", set()))
        for name, pattern in staff_patterns().items()
    }
    assert declared == EXPECTED_ROLES


@pytest.mark.parametrize("role", sorted(EVERYONE))
@pytest.mark.parametrize("url_name", sorted(EXPECTED_ROLES))
def test_role_gets_the_page_only_if_allowed(client, summit, member_factory, role, url_name):
    membership = member_factory(summit, role)
    pattern = staff_patterns()[url_name]
    kwargs = url_kwargs(pattern.pattern.converters, summit)
    client.force_login(membership.user)
    url = reverse(url_name, kwargs=kwargs)

    response = client.get(url)
    if response.status_code == 405:  # POST-only actions
        response = client.post(url)

    if role in EXPECTED_ROLES[url_name]:
        assert response.status_code in (200, 302)
    else:
        assert response.status_code == 403
        assert b"This page is not part of your role" in response.content


@pytest.mark.parametrize("url_name", sorted(EXPECTED_ROLES))
def test_anonymous_visitors_are_sent_to_sign_in(client, summit, url_name):
    pattern = staff_patterns()[url_name]
    kwargs = url_kwargs(pattern.pattern.converters, summit)

    response = client.post(reverse(url_name, kwargs=kwargs))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize(
    ("role", "visible", "hidden"),
    [
        (Role.ADMIN, ["New referral", "Physicians", "Prospects", "Attention", "Follow-ups"], []),
        (Role.LIAISON, ["Queues", "Physicians", "Practices", "Prospects", "Attention", "Follow-ups"], []),
        (Role.THERAPIST, ["Queues", "Physicians", "Follow-ups"], ["Prospects", "Attention"]),
        (Role.FRONT_DESK, ["New referral", "Queues", "Physicians"], ["Prospects", "Attention", "Follow-ups"]),
    ],
)
def test_navigation_fits_the_role(client, summit, member_factory, role, visible, hidden):
    client.force_login(member_factory(summit, role).user)

    labels = [link.label for link in client.get(reverse("home")).context["navigation"]]

    assert all(label in labels for label in visible)
    assert not any(label in labels for label in hidden)


def test_navigation_marks_the_section_of_the_current_page(client, summit, member_factory):
    client.force_login(member_factory(summit, Role.LIAISON).user)

    navigation = client.get(reverse("physicians:prospects")).context["navigation"]

    assert [link.label for link in navigation if link.current] == ["Prospects"]
