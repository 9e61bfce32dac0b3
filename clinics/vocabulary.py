"""The shared population vocabulary, kept complete after every migrate.

Like Django's own permissions, the rows are (re)made by a post_migrate
handler rather than only by a data migration: `flush` (run by a test that
needs real transactions, or by an operator) empties every table and then
sends post_migrate, so the vocabulary every organization's practices and
services point at comes back on its own.
"""

from typing import Any

from django.apps import AppConfig
from django.apps import apps as installed_apps
from django.apps.registry import Apps

from .models import DEFAULT_POPULATIONS


def populations_ensure(*, apps: Apps, using: str) -> None:
    """Adds the populations of DEFAULT_POPULATIONS that are missing; existing rows are left as they are."""
    try:
        population_model = apps.get_model("clinics", "Population")
    except LookupError:  # migrated back to before populations existed
        return
    existing = set(population_model.objects.using(using).values_list("code", flat=True))
    population_model.objects.using(using).bulk_create(
        population_model(code=code, name=name, adjective=adjective)
        for code, name, adjective in DEFAULT_POPULATIONS
        if code not in existing
    )


def populations_after_migrate(
    sender: AppConfig, *, using: str, apps: Apps = installed_apps, **kwargs: Any
) -> None:
    # `migrate` passes the migrated state's apps; `flush` passes none.
    populations_ensure(apps=apps, using=using)
