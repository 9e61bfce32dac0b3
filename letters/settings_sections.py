"""The letters' section of the Organization settings page (see clinics/settings_sections.py)."""

from clinics.settings_sections import SettingsSection, register_settings_section

from .forms import LetterSettingsForm
from .selectors import letter_settings_get
from .services import letter_settings_update

register_settings_section(
    SettingsSection(
        key="letters",
        title="Letters to physicians",
        description="Letters tell each referring physician about their patients, as often and by the way "
        "the physician asked (Send updates, on their page).",
        form_class=LetterSettingsForm,
        instance=letter_settings_get,
        save=letter_settings_update,
        order=40,
    )
)
