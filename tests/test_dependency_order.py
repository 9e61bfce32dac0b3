"""Dependencies point one way: each app knows only the apps above it in INSTALLED_APPS.

accounts ← clinics ← audit ← outbox ← physicians ← referrals ← billing ← outcomes ← outreach ← announcements
← letters ← analytics ← digests.
An app knows another by importing it, and also by naming it: its URL names
(`reverse("outreach:…")`, `{% url 'outreach:…' %}`), its templates
(`"outreach/…"`) and the accessors its models add to ours
(`organization.outreach_settings`). A later app reaches an earlier one's
pages, menus and settings page only through registries (panels, navigation,
settings sections), so the earlier app names none of these.
"""

import ast
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
RAPPORT_APPS = [app for app in settings.INSTALLED_APPS if (BASE_DIR / app / "apps.py").exists()]
# The project's own templates (base.html, error pages) are rendered by every
# app's pages, so they may know no more than the lowest app with pages.
PROJECT_TEMPLATES_LEVEL = "clinics"

URL_NAME = re.compile(r"^(?P<app>\w+):[\w-]+$")
TEMPLATE_PATH = re.compile(r"^(?P<app>\w+)/[\w./#-]+$")
LOOKUP = re.compile(r"^[a-z_]+$")
TEMPLATE_URL_TAG = re.compile(r"{%\s*url\s+['\"](?P<app>\w+):")
TEMPLATE_STRING = re.compile(r"['\"](?P<app>\w+)/[\w./#-]+['\"]")


def apps_above(app: str) -> set[str]:
    return set(RAPPORT_APPS[: RAPPORT_APPS.index(app)])


def python_modules(app: str) -> list[Path]:
    return [
        path
        for path in sorted((BASE_DIR / app).rglob("*.py"))
        if "migrations" not in path.relative_to(BASE_DIR).parts
    ]


def templates(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file() and path.suffix in {".html", ".txt"})


def app_templates(app: str) -> list[Path]:
    return templates(BASE_DIR / app / "templates")


def accessors_into(app: str) -> dict[str, str]:
    """{accessor name: owning app} for the relations other apps' models add to `app`'s models.

    `Organization.referral_settings` is declared in referrals: naming it from
    clinics is knowing referrals.
    """
    found = {}
    for model in apps.get_app_config(app).get_models():
        for relation in model._meta.related_objects:
            owner = relation.related_model._meta.app_label
            accessor = relation.get_accessor_name()
            if owner in RAPPORT_APPS and owner != app and accessor and not relation.remote_field.hidden:
                found[accessor] = owner
    return found


def imported_apps(app: str) -> dict[str, set[str]]:
    """{module path: the other Rapport apps it imports} for every module of `app`."""
    found = {}
    for path in python_modules(app):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
        others = {name.split(".")[0] for name in names} & set(RAPPORT_APPS) - {app}
        if others:
            found[str(path.relative_to(BASE_DIR))] = others
    return found


def python_names(path: Path, *, accessors: dict[str, str]) -> set[tuple[str, str]]:
    """(app, what) for every URL name, template path and related accessor a module names."""
    tree = ast.parse(path.read_text())
    # Pieces of f-strings are text, not names: f"referrals{n}@example.com".
    text_pieces = {
        id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values
    }
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in text_pieces:
            if match := URL_NAME.match(node.value):
                found.add((match["app"], f"URL name {node.value!r}"))
            if match := TEMPLATE_PATH.match(node.value):
                found.add((match["app"], f"template {node.value!r}"))
            if LOOKUP.match(node.value):
                found |= {
                    (accessors[step], f"accessor {node.value!r}")
                    for step in node.value.split("__")
                    if step in accessors
                }
        elif isinstance(node, ast.Attribute) and node.attr in accessors:
            found.add((accessors[node.attr], f"accessor .{node.attr}"))
    return found


def template_names(path: Path, *, accessors: dict[str, str]) -> set[tuple[str, str]]:
    text = path.read_text()
    found = {(match["app"], f"URL name in {match[0]!r}") for match in TEMPLATE_URL_TAG.finditer(text)}
    found |= {(match["app"], f"template {match[0]}") for match in TEMPLATE_STRING.finditer(text)}
    for accessor, owner in accessors.items():
        if re.search(rf"\.{accessor}\b", text):
            found.add((owner, f"accessor .{accessor}"))
    return found


def names_of_apps_below(app: str, files: list[Path], level: str) -> dict[str, set[str]]:
    """{file: what it names of apps below `level`} among `files`."""
    below = set(RAPPORT_APPS) - apps_above(level) - {level}
    accessors = {accessor: owner for accessor, owner in accessors_into(app).items() if owner in below}
    found = {}
    for path in files:
        scan = python_names if path.suffix == ".py" else template_names
        wrong_way = {what for owner, what in scan(path, accessors=accessors) if owner in below}
        if wrong_way:
            found[str(path.relative_to(BASE_DIR))] = wrong_way
    return found


def test_the_apps_are_the_ones_the_architecture_names():
    assert RAPPORT_APPS == [
        "accounts",
        "clinics",
        "audit",
        "outbox",
        "physicians",
        "referrals",
        "billing",
        "outcomes",
        "outreach",
        "announcements",
        "letters",
        "analytics",
        "digests",
    ]


def test_every_url_namespace_is_its_apps_label():
    """The name checks below read `outreach:` as the outreach app."""
    from django.urls import get_resolver

    namespaces = {
        namespace: resolver.urlconf_name.__name__.split(".")[0]
        for namespace, (_, resolver) in get_resolver().namespace_dict.items()
        if namespace != "admin"
    }

    assert all(namespace == app for namespace, app in namespaces.items()), namespaces


@pytest.mark.parametrize("app", RAPPORT_APPS)
def test_an_app_imports_only_apps_above_it(app):
    above = apps_above(app)

    wrong_way = {module: others - above for module, others in imported_apps(app).items() if others - above}

    assert not wrong_way, f"{app} imports apps below it: {wrong_way}"


@pytest.mark.parametrize("app", RAPPORT_APPS)
def test_an_app_names_no_url_template_or_accessor_of_apps_below_it(app):
    wrong_way = names_of_apps_below(app, python_modules(app) + app_templates(app), level=app)

    assert not wrong_way, f"{app} names apps below it: {wrong_way}"


def test_the_project_templates_name_only_the_lowest_apps():
    files = templates(BASE_DIR / "templates")
    wrong_way = {}
    for app in [*apps_above(PROJECT_TEMPLATES_LEVEL), PROJECT_TEMPLATES_LEVEL]:
        wrong_way |= names_of_apps_below(app, files, level=PROJECT_TEMPLATES_LEVEL)

    assert not wrong_way, f"the project templates name apps above {PROJECT_TEMPLATES_LEVEL}: {wrong_way}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            'redirect("outreach:announcement_create", offering_id=1)',
            "URL name 'outreach:announcement_create'",
        ),
        ('render(request, "referrals/queues.html")', "template 'referrals/queues.html'"),
        ("organization.outreach_settings.cadence_tier_a_days", "accessor .outreach_settings"),
        ('select_related("organization__referral_settings")', "accessor 'organization__referral_settings'"),
    ],
)
def test_the_name_scan_sees_each_kind_of_reference(tmp_path, source, expected):
    module = tmp_path / "module.py"
    module.write_text(source)
    accessors = {"outreach_settings": "outreach", "referral_settings": "referrals"}

    assert {what for _, what in python_names(module, accessors=accessors)} >= {expected}


def test_the_template_scan_sees_url_tags_and_template_paths(tmp_path):
    template = tmp_path / "page.html"
    template.write_text(
        '{% include "outreach/_row.html" %}<a href="{% url \'outreach:attention\' %}">'
        "{{ request.organization.referral_settings.poc_signature_days }}</a>"
    )
    accessors = {"referral_settings": "referrals"}

    assert template_names(template, accessors=accessors) == {
        ("outreach", 'template "outreach/_row.html"'),
        ("outreach", 'URL name in "{% url \'outreach:"'),
        ("referrals", "accessor .referral_settings"),
    }
