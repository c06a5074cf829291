"""The module maps that open the READMEs name what is there, and all of it.

A map is the five bullet lines after a ``<!-- module map: DIR -->`` comment.
In a package's README (and bench/'s) every backticked ``name.py`` must be a
module of DIR and every module of DIR must be named; every backticked path,
there and in the repository's README, must exist.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
# The packages' READMEs and the benchmarks': each maps the modules of one folder.
PACKAGE_READMES = [
    *sorted((ROOT / "packages").glob("*/README.md")),
    ROOT / "bench/README.md",
]
MARKER = re.compile(r"^<!-- module map: (?P<directory>\S+) -->$", re.MULTILINE)


def module_map(readme: Path) -> tuple[Path, list[str], int]:
    """The map's directory, its bullet lines and the line number it starts on."""
    text = readme.read_text(encoding="utf-8")
    found = MARKER.search(text)
    assert found, f"{readme.relative_to(ROOT)} has no module map"
    after = text[found.end() :].lstrip("\n").split("\n\n", 1)[0]
    start = text[: found.start()].count("\n")
    return ROOT / found["directory"], after.splitlines(), start


def named(lines: list[str]) -> list[str]:
    return re.findall(r"`([^`\s]+)`", "\n".join(lines))


@pytest.mark.parametrize(
    "readme", [ROOT / "README.md", *PACKAGE_READMES], ids=lambda p: p.parent.name
)
def test_the_map_is_five_bullet_lines(readme):
    _, lines, _ = module_map(readme)
    assert len(lines) == 5, lines
    assert all(line.startswith("- **") for line in lines), lines


@pytest.mark.parametrize("readme", PACKAGE_READMES, ids=lambda p: p.parent.name)
def test_a_package_map_names_every_module_and_only_modules(readme):
    directory, lines, start = module_map(readme)
    assert start < 15, "the map opens the README, right after its first paragraph"
    modules = {path.name for path in directory.glob("*.py")}
    names = named(lines)
    mentioned = {name for name in names if name.endswith(".py") and "/" not in name}
    assert mentioned - modules == set(), f"named in the map but missing: {readme}"
    assert modules - mentioned == set(), f"modules the map does not name: {readme}"
    paths = [name for name in names if "/" in name]
    assert [path for path in paths if not (directory / path).exists()] == []


def test_the_repository_map_names_paths_that_exist():
    directory, lines, _ = module_map(ROOT / "README.md")
    paths = [name for name in named(lines) if "/" in name]
    assert len(paths) >= 10, paths
    missing = [path for path in paths if not (directory / path).exists()]
    assert missing == []
