"""Dependencies point one way: each app imports only the apps above it in INSTALLED_APPS.

accounts ← clinics ← outbox ← physicians ← referrals ← outreach ← announcements ← analytics.
A later app reaches an earlier one's pages only through registries (panels)
or URL names, never by importing it.
"""

import ast
from pathlib import Path

import pytest
from django.conf import settings

RAPPORT_APPS = [
    app for app in settings.INSTALLED_APPS if (Path(settings.BASE_DIR) / app / "apps.py").exists()
]


def imported_apps(app: str) -> dict[str, set[str]]:
    """{module path: the other Rapport apps it imports} for every module of `app`."""
    found = {}
    for path in sorted((Path(settings.BASE_DIR) / app).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
        others = {name.split(".")[0] for name in names} & set(RAPPORT_APPS) - {app}
        if others:
            found[str(path.relative_to(settings.BASE_DIR))] = others
    return found


def test_the_apps_are_the_ones_the_architecture_names():
    assert RAPPORT_APPS == [
        "accounts",
        "clinics",
        "outbox",
        "physicians",
        "referrals",
        "outreach",
        "announcements",
        "analytics",
    ]


@pytest.mark.parametrize("app", RAPPORT_APPS)
def test_an_app_imports_only_apps_above_it(app):
    above = set(RAPPORT_APPS[: RAPPORT_APPS.index(app)])

    wrong_way = {module: others - above for module, others in imported_apps(app).items() if others - above}

    assert not wrong_way, f"{app} imports apps below it: {wrong_way}"
