"""The Organization settings page, assembled from the sections each app registers.

Each app keeps its own settings in a one-to-one model of its own and
registers a section here (from its `settings_sections.py`, loaded by its
AppConfig.ready): the form, the row it edits, the service that saves it and,
optionally, what to do once the save has committed. The page shows every
section the member's role may edit, validates them all, and saves them all
in one transaction (`services.organization_settings_save`).
"""

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db import models

from .forms import OrganizationForm, SecuritySettingsForm
from .models import Organization
from .roles import ADMINS, ALL_ROLES
from .services import organization_update
from .two_factor import security_settings_get, security_settings_update


@dataclass(frozen=True)
class SettingsSection:
    # Unique; prefixes the section's field names in the page's one form.
    key: str
    title: str
    form_class: type[forms.ModelForm]
    # `instance(organization=…)`: the row the form edits.
    instance: Callable[..., models.Model]
    # `save(organization=…, **cleaned_data)`: the app's service; it raises
    # ValidationError to refuse, which rolls back every section.
    save: Callable[..., object]
    # Position on the page, lowest first; apps leave gaps for each other.
    order: int
    roles: frozenset[str] = ADMINS
    description: str = ""
    # `after_save(organization=…)`, run once the save has committed; a
    # failing one fails no save.
    after_save: Callable[..., None] | None = None


_sections: dict[str, SettingsSection] = {}


def register_settings_section(section: SettingsSection) -> SettingsSection:
    """Adds `section` to the settings page; registering the same key again replaces it."""
    if unknown := section.roles - ALL_ROLES:
        raise ValueError(f"Unknown roles for settings section {section.key}: {sorted(unknown)}")
    _sections[section.key] = section
    return section


def settings_sections(*, role: str) -> list[SettingsSection]:
    return sorted(
        (section for section in _sections.values() if role in section.roles),
        key=lambda section: (section.order, section.key),
    )


def settings_forms(
    *, organization: Organization, role: str, data: Any = None
) -> list[tuple[SettingsSection, forms.ModelForm]]:
    """Each section the role may edit with its form, bound to `data` when given."""
    return [
        (
            section,
            section.form_class(
                data, instance=section.instance(organization=organization), prefix=section.key
            ),
        )
        for section in settings_sections(role=role)
    ]


def _organization_instance(*, organization: Organization) -> Organization:
    # A copy: validating a form writes the typed values onto its instance, and
    # the request's organization (its name in the page header) must change
    # only if the save commits.
    return copy.copy(organization)


register_settings_section(
    SettingsSection(
        key="organization",
        title="Organization",
        form_class=OrganizationForm,
        instance=_organization_instance,
        save=organization_update,
        order=10,
    )
)

register_settings_section(
    SettingsSection(
        key="security",
        title="Sign-in security",
        description="Admins always sign in with a code from an authenticator app after their password.",
        form_class=SecuritySettingsForm,
        instance=security_settings_get,
        save=security_settings_update,
        order=15,
    )
)
