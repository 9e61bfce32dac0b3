"""The audit trail's section of the Organization settings page (see clinics/settings_sections.py)."""

from clinics.settings_sections import SettingsSection, register_settings_section

from .forms import AuditSettingsForm
from .selectors import audit_settings_get
from .services import audit_settings_update

register_settings_section(
    SettingsSection(
        key="audit",
        title="Access audit trail",
        description="How long the record of who saw which patient's data is kept. The oldest events "
        "are removed each night once they are older than this; the removal is itself recorded.",
        form_class=AuditSettingsForm,
        instance=audit_settings_get,
        save=audit_settings_update,
        order=90,
    )
)
