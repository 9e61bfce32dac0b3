"""One settings page from the sections the apps register: validated together, saved in one transaction.

Each app owns its settings in a one-to-one row, made with its defaults the
first time it is read; Organization keeps only what identifies it.
"""

from unittest import mock

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse

from clinics import settings_sections
from clinics.models import Organization, Role
from clinics.settings_sections import SettingsSection, register_settings_section
from outreach.models import OutreachSettings
from outreach.selectors import outreach_settings_get
from referrals.models import ReferralSettings
from referrals.selectors import referral_settings_get

SETTINGS_URL = "clinics:organization_settings"
VALID = {
    "organization-name": "Summit PT Group",
    "referrals-contact_sla_business_days": 2,
    "referrals-unreachable_after_attempts": 3,
    "referrals-patient_details_retention_years": 7,
    "referrals-poc_signature_days": 45,
    "referrals-poc_certification_days": 60,
    "outreach-cadence_tier_a_days": 7,
    "outreach-cadence_tier_b_days": 21,
    "outreach-cadence_tier_c_days": 45,
    "letters-loop_days": 7,
    "letters-link_valid_days": 30,
    "audit-retention_years": 6,
}


@pytest.fixture
def registry(monkeypatch):
    """The sections as the apps registered them; a section a test adds is gone after it."""
    monkeypatch.setattr(settings_sections, "_sections", dict(settings_sections._sections))


def section_forms(response) -> dict[str, forms.BaseForm]:
    return {section.key: form for section, form in response.context["sections"]}


def saved_values(organization: Organization) -> tuple:
    organization.refresh_from_db()
    rules = referral_settings_get(organization=organization)
    cadences = outreach_settings_get(organization=organization)
    return (
        organization.name,
        rules.contact_sla_business_days,
        rules.poc_signature_days,
        rules.poc_certification_days,
        cadences.cadence_tier_a_days,
        cadences.cadence_tier_b_days,
        cadences.cadence_tier_c_days,
    )


DEFAULTS = ("Summit Physical Therapy", 1, 30, 90, 14, 30, 60)


def test_the_page_shows_every_registered_section_in_order(admin_client):
    response = admin_client.get(reverse(SETTINGS_URL))

    assert [section.key for section, _ in response.context["sections"]] == [
        "organization",
        "security",
        "referrals",
        "outreach",
        "letters",
        "audit",
    ]
    content = response.content.decode()
    titles = [
        "Organization",
        "Sign-in security",
        "Referrals and plans of care",
        "Contact cadence",
        "Letters to physicians",
        "Access audit trail",
    ]
    positions = [content.index(f'">{title}</h2>') for title in titles]
    assert positions == sorted(positions)
    assert 'name="referrals-poc_signature_days" value="30"' in content
    assert 'name="outreach-cadence_tier_a_days" value="14"' in content


def test_saving_writes_every_section(admin_client, summit, django_capture_on_commit_callbacks):
    with (
        mock.patch("outreach.tasks.flag_organization_sources.delay") as sweep,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = admin_client.post(reverse(SETTINGS_URL), VALID)

    assert response.url == reverse(SETTINGS_URL)
    assert saved_values(summit) == ("Summit PT Group", 2, 45, 60, 7, 21, 45)
    sweep.assert_called_once_with(summit.pk)


def test_only_the_sections_changed_are_saved(admin_client, summit, django_capture_on_commit_callbacks):
    """Saving the page as it stands writes nothing; changing one section leaves the others' rows alone."""
    admin_client.post(reverse(SETTINGS_URL), VALID)
    outreach_history = OutreachSettings.history.filter(organization=summit).count()

    with (
        mock.patch("outreach.tasks.flag_organization_sources.delay") as sweep,
        django_capture_on_commit_callbacks(execute=True),
    ):
        unchanged = admin_client.post(reverse(SETTINGS_URL), VALID, follow=True)
        admin_client.post(reverse(SETTINGS_URL), {**VALID, "referrals-poc_signature_days": 40})

    assert "Nothing was changed, so nothing was saved." in unchanged.content.decode()
    assert referral_settings_get(organization=summit).poc_signature_days == 40
    assert OutreachSettings.history.filter(organization=summit).count() == outreach_history
    sweep.assert_not_called()


def test_an_error_in_one_section_saves_nothing_and_keeps_everything_typed(
    admin_client, summit, django_capture_on_commit_callbacks
):
    with (
        mock.patch("outreach.tasks.flag_organization_sources.delay") as sweep,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = admin_client.post(reverse(SETTINGS_URL), {**VALID, "outreach-cadence_tier_b_days": 0})

    assert response.status_code == 200
    assert saved_values(summit) == DEFAULTS
    sweep.assert_not_called()
    assert list(section_forms(response)["outreach"].errors) == ["cadence_tier_b_days"]
    content = response.content.decode()
    assert 'value="Summit PT Group"' in content
    assert 'name="referrals-poc_signature_days" value="45"' in content
    assert 'name="outreach-cadence_tier_b_days" value="0"' in content
    # The page header still names the organization as saved.
    assert '<h2 class="dropdown-header">Summit Physical Therapy</h2>' in content


@pytest.mark.parametrize(
    ("change", "section", "field", "message"),
    [
        (
            {"outreach-cadence_tier_a_days": 90},
            "outreach",
            "cadence_tier_a_days",
            "Contact tier A at least as often as tier B (21 days).",
        ),
        (
            {"outreach-cadence_tier_c_days": 10},
            "outreach",
            "cadence_tier_b_days",
            "Contact tier B at least as often as tier C (10 days).",
        ),
        (
            {"referrals-poc_signature_days": 500},
            "referrals",
            "poc_signature_days",
            "A plan must be signed while it is certified: at most 60 days, the length of a certification.",
        ),
    ],
)
def test_settings_that_contradict_each_other_are_refused_beside_the_field(
    admin_client, summit, change, section, field, message
):
    response = admin_client.post(reverse(SETTINGS_URL), {**VALID, **change})

    assert response.status_code == 200
    assert section_forms(response)[section].errors[field] == [message]
    assert saved_values(summit) == DEFAULTS


def test_older_contradictory_values_do_not_block_saving_another_section(admin_client, summit):
    """Values saved before the rule (tier A less often than B) stay until their own section is changed."""
    outreach_settings_get(organization=summit)
    OutreachSettings.objects.filter(organization=summit).update(cadence_tier_a_days=90)
    data = {**VALID, "outreach-cadence_tier_a_days": 90, "outreach-cadence_tier_b_days": 30}
    data["outreach-cadence_tier_c_days"] = 60

    response = admin_client.post(reverse(SETTINGS_URL), data)

    assert response.status_code == 302
    assert saved_values(summit)[0] == "Summit PT Group"
    assert outreach_settings_get(organization=summit).cadence_tier_a_days == 90


def test_a_section_refused_by_its_service_rolls_back_the_sections_saved_before_it(
    registry, admin_client, summit, django_capture_on_commit_callbacks
):
    """The other sections were written before this one refused: one transaction undoes them."""

    class SendLettersForm(forms.ModelForm):
        send = forms.BooleanField(required=False)

        class Meta:
            model = Organization
            fields = ()

    def refuse(*, organization, send):
        raise ValidationError("The letters service is not reachable.")

    register_settings_section(
        SettingsSection(
            key="letters",
            title="Outcome letters",
            form_class=SendLettersForm,
            instance=lambda *, organization: organization,
            save=refuse,
            order=99,
        )
    )

    with (
        mock.patch("outreach.tasks.flag_organization_sources.delay") as sweep,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = admin_client.post(reverse(SETTINGS_URL), {**VALID, "letters-send": "on"})

    assert response.status_code == 200
    assert saved_values(summit) == DEFAULTS
    sweep.assert_not_called()
    assert section_forms(response)["letters"].non_field_errors() == ["The letters service is not reachable."]
    assert 'name="outreach-cadence_tier_a_days" value="7"' in response.content.decode()


def test_sections_follow_their_roles(registry):
    register_settings_section(
        SettingsSection(
            key="digests",
            title="Digests",
            form_class=forms.ModelForm,
            instance=lambda *, organization: organization,
            save=lambda **values: None,
            order=5,
            roles=frozenset({Role.LIAISON}),
        )
    )

    assert [section.key for section in settings_sections.settings_sections(role=Role.LIAISON)] == ["digests"]
    assert "digests" not in [section.key for section in settings_sections.settings_sections(role=Role.ADMIN)]
    with pytest.raises(ValueError, match="Unknown roles"):
        register_settings_section(
            SettingsSection(
                key="x",
                title="X",
                form_class=forms.ModelForm,
                instance=lambda *, organization: organization,
                save=lambda **values: None,
                order=1,
                roles=frozenset({"janitor"}),
            )
        )


def test_only_admins_open_the_settings_page(client, summit, member_factory):
    client.force_login(member_factory(summit, Role.LIAISON).user)

    assert client.get(reverse(SETTINGS_URL)).status_code == 403


# Each app's settings row


def test_settings_rows_are_made_with_their_defaults_on_first_read_and_read_in_one_query(
    summit, django_assert_num_queries
):
    assert not ReferralSettings.objects.filter(organization=summit).exists()

    rules = referral_settings_get(organization=summit)
    cadences = outreach_settings_get(organization=summit)

    assert (rules.contact_sla_business_days, rules.poc_signature_days, rules.poc_certification_days) == (
        1,
        30,
        90,
    )
    assert (cadences.cadence_tier_a_days, cadences.cadence_tier_b_days, cadences.cadence_tier_c_days) == (
        14,
        30,
        60,
    )
    with django_assert_num_queries(2):
        assert referral_settings_get(organization=summit) == rules
        assert outreach_settings_get(organization=summit) == cadences
    assert ReferralSettings.objects.count() == OutreachSettings.objects.count() == 1


def test_organization_holds_only_identity_fields():
    # The time zone is identity, not an app's setting: every app counts its days in it (clinics/clock.py).
    assert [field.name for field in Organization._meta.concrete_fields] == [
        "id",
        "name",
        "slug",
        "timezone",
        "created_at",
    ]


BEFORE = [
    ("clinics", "0005_contact_cadence"),
    ("referrals", "0007_remove_referral_document_field"),
    ("outreach", "0003_revoke_calendar_feeds_of_lost_access"),
]
AFTER = [("clinics", "0007_organization_holds_identity_only")]


def test_the_migration_moves_each_organizations_settings_to_its_apps_rows(scratch_database):
    apps = scratch_database.migrate_to(BEFORE)
    OldOrganization = apps.get_model("clinics", "Organization")
    custom = OldOrganization.objects.create(
        name="Custom",
        slug="custom",
        contact_sla_business_days=3,
        poc_signature_days=21,
        poc_certification_days=60,
        cadence_tier_a_days=7,
        cadence_tier_b_days=28,
        cadence_tier_c_days=90,
    )
    OldOrganization.objects.create(name="Defaults", slug="defaults")

    apps = scratch_database.migrate_to(AFTER)

    rules = apps.get_model("referrals", "ReferralSettings").objects.get(organization_id=custom.pk)
    cadences = apps.get_model("outreach", "OutreachSettings").objects.get(organization_id=custom.pk)
    assert (rules.contact_sla_business_days, rules.poc_signature_days, rules.poc_certification_days) == (
        3,
        21,
        60,
    )
    assert (cadences.cadence_tier_a_days, cadences.cadence_tier_b_days, cadences.cadence_tier_c_days) == (
        7,
        28,
        90,
    )
    assert apps.get_model("referrals", "ReferralSettings").objects.count() == 2

    apps = scratch_database.migrate_to(BEFORE)

    back = apps.get_model("clinics", "Organization").objects.get(pk=custom.pk)
    assert (back.poc_signature_days, back.cadence_tier_c_days) == (21, 90)
