"""Everything the product, the tests and the benchmarks need lives in the repository.

A clinic's IT person clones Rapport into any folder, with nothing beside it,
and runs `make run` and `make test`. So no tracked file may name a path
outside the clone: a folder beside it ("../shared"), the machine it was
written on ("/work/"), or a path climbed to from `__file__` or the project
root past the root itself. Test data goes under tests/fixtures, tools under
bench/.
"""

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Folders a clone makes for itself; never tracked (.gitignore).
UNTRACKED = {".git", ".venv", ".tools", "var", "__pycache__", ".pytest_cache", ".ruff_cache"}
OUTSIDE = {
    "a folder beside the repository": re.compile(r"\.\./shared|\bshared/(?:samples|tools)/"),
    "a folder of the machine it was written on": re.compile(r"/work/"),
    "the folder above the project root": re.compile(
        r"\b(?:BASE_DIR|REPO|ROOT)\b\)?\s*(?:\.parent\b|/\s*['\"]\.\.)"
    ),
}
CLIMB = re.compile(
    r"Path\(__file__\)(?:\.resolve\(\))?(?:(?P<parents>(?:\.parent\b)+)|\.parents\[(?P<index>\d+)\])"
)


def tracked_files() -> list[str]:
    """The files a clone holds: git's list, or the tree less what a clone makes itself, without git."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return sorted(
            str(path.relative_to(REPO))
            for path in REPO.rglob("*")
            if path.is_file() and not UNTRACKED & set(path.relative_to(REPO).parts)
        )
    return sorted(name for name in listed.split("\0") if name)


def outside_references(name: str, text: str) -> list[str]:
    """Each place in a file's text that leads outside the repository, with why."""
    found = [
        f"{name}:{text.count(chr(10), 0, match.start()) + 1}: {why} ({match.group(0)!r})"
        for why, pattern in OUTSIDE.items()
        for match in pattern.finditer(text)
    ]
    # Path(__file__).parent is the file's folder; each further .parent climbs
    # one level, and the repository's root is as many levels up as the file is deep.
    depth = len(Path(name).parts) - 1
    for match in CLIMB.finditer(text):
        climbed = match.group("parents").count(".parent") - 1 if match.group("parents") else None
        if climbed is None:
            climbed = int(match.group("index"))
        if climbed > depth:
            line = text.count("\n", 0, match.start()) + 1
            found.append(f"{name}:{line}: climbs {climbed} folders from a file {depth} deep")
    return found


def test_no_tracked_file_reaches_outside_the_repository():
    files = tracked_files()
    assert "tests/fixtures/nppes_sample.csv" in files
    assert "bench/make_nppes.py" in files
    problems = []
    for name in files:
        if name == "tests/test_self_contained.py":  # it names what it looks for
            continue
        try:
            text = (REPO / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue  # binary, or deleted but not yet committed
        problems += outside_references(name, text)
    assert problems == []


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("tests/physicians/test_x.py", 'SAMPLE = Path(settings.BASE_DIR).parent / "shared" / "x.csv"'),
        ("bench/x.py", 'GENERATOR = "../shared/tools/make_nppes.py"'),
        ("Makefile", "test:\n\tpython /work/shared/tools/check.py"),
        ("bench/x.py", "REPO = Path(__file__).resolve().parent.parent.parent"),
        ("tests/x/test_y.py", "DATA = Path(__file__).parents[3] / 'data'"),
        ("bench/x.py", 'OTHER = REPO / ".." / "samples"'),
    ],
)
def test_each_way_out_is_caught(name, text):
    assert outside_references(name, text)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("config/settings/base.py", "BASE_DIR = Path(__file__).resolve().parent.parent.parent"),
        ("tests/physicians/test_x.py", 'SAMPLE = Path(__file__).resolve().parent.parent / "fixtures"'),
        ("bench/x.py", "sys.path.insert(0, str(Path(__file__).resolve().parents[1]))"),
        ("README.md", "Data lives in `var/`; shared fixtures are in tests/conftest.py."),
    ],
)
def test_paths_inside_the_repository_pass(name, text):
    assert outside_references(name, text) == []
