"""The referral rules' section of the Organization settings page (see clinics/settings_sections.py)."""

from clinics.settings_sections import SettingsSection, register_settings_section

from .forms import ReferralSettingsForm
from .selectors import referral_settings_get
from .services import referral_settings_update

register_settings_section(
    SettingsSection(
        key="referrals",
        title="Referrals and plans of care",
        form_class=ReferralSettingsForm,
        instance=referral_settings_get,
        save=referral_settings_update,
        order=20,
    )
)
