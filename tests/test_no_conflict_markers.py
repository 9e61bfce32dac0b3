"""No text file of the project keeps a merge's conflict markers, which a docstring or README hides."""

import re
from pathlib import Path

from django.conf import settings

MARKER = re.compile(r"^(<{7} |>{7} |={7}$)", re.MULTILINE)
SUFFIXES = {".py", ".md", ".html", ".txt", ".css", ".js", ".toml", ".yml", ".yaml", ".csv"}
# Folders the project's install step fills, and the environment's: not the project's own text.
NOT_OURS = {
    *(".git", ".venv", ".tools", "node_modules", "vendor", "var"),
    *("__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"),
}


def test_no_text_file_of_the_project_holds_conflict_markers():
    root = Path(settings.BASE_DIR)
    marked = [
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.suffix in SUFFIXES
        and not NOT_OURS.intersection(path.relative_to(root).parts)
        and path.is_file()
        and MARKER.search(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert marked == []
