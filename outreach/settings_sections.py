"""The cadences' section of the Organization settings page (see clinics/settings_sections.py)."""

from clinics.models import Organization
from clinics.settings_sections import SettingsSection, register_settings_section

from .forms import OutreachSettingsForm
from .selectors import outreach_settings_get
from .services import outreach_settings_update
from .tasks import flag_organization_sources


def _cadences_may_have_changed(*, organization: Organization) -> None:
    """New tier cadences show on Attention within moments, evaluated by a worker.

    Not in the admin's request: the sweep reads every source of the
    organization and holds its lock while it runs. The settings page calls
    this after the commit; should the broker be down, the morning run catches up.
    """
    flag_organization_sources.delay(organization.pk)


register_settings_section(
    SettingsSection(
        key="outreach",
        title="Contact cadence",
        description="How often a source of each tier should hear from the clinic; "
        "a physician's own interval, on their edit form, overrides their tier's.",
        form_class=OutreachSettingsForm,
        instance=outreach_settings_get,
        save=outreach_settings_update,
        order=30,
        after_save=_cadences_may_have_changed,
    )
)
