"""Every source file the run imports, whether git has it or not (spec 11).

``git status`` only says whether *tracked* files changed. A script that
imports an untracked ``helper.py`` looks clean, yet its commit cannot
reproduce it. So the modules Python has actually imported are looked at:
those whose ``.py`` file lies inside the repository, outside the standard
library and installed packages, are asked of git (one ``git ls-files``,
started alongside the recorder's other git commands); the untracked ones
refuse the run, or, with ``allow_dirty``, are copied into ``sources/``.

The scan is a pass over ``sys.modules`` with string tests only (no ``stat``),
so it costs a fraction of a millisecond for a typical script. Whether git
tracks a file is read from the repository's index file itself when its
format allows (versions 2 and 3, no split index): a byte search for each
candidate's entry costs about a millisecond even with 20,000 tracked files,
where one more ``git ls-files`` process cost 10-25 ms on a loaded machine.
Anything unusual falls back to ``git ls-files``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .atomic import write_bytes_atomic

if TYPE_CHECKING:
    import subprocess

SOURCES_FOLDER = "sources"
_INSTALLED_PARTS = (f"{os.sep}site-packages{os.sep}", f"{os.sep}dist-packages{os.sep}")
_GIT = ("git", "--no-optional-locks", "--literal-pathspecs", "-c", "core.quotepath=off")


def find_toplevel(directory: Path) -> Path | None:
    """The work tree holding ``directory``: the nearest folder with ``.git``."""
    current = directory.absolute()
    for candidate in (current, *current.parents):
        if os.path.lexists(candidate / ".git"):
            return candidate
    return None


def imported_sources(toplevel: Path, excluded: list[Path]) -> dict[str, str]:
    """``{path relative to toplevel: absolute path}`` of imported ``.py`` files
    inside the work tree, never under ``excluded`` or an installation."""
    roots = {str(toplevel) + os.sep}
    roots.add(os.path.realpath(toplevel) + os.sep)
    skipped = tuple(
        {str(p) + os.sep for p in excluded}
        | {p + os.sep for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}}
    )
    found: dict[str, str] = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not isinstance(path, str) or not path.endswith(".py"):
            continue
        if not os.path.isabs(path):
            path = os.path.abspath(path)
        if path.startswith(skipped) or any(part in path for part in _INSTALLED_PARTS):
            continue
        for root in roots:
            if path.startswith(root):
                found[path[len(root) :]] = path
                break
    return found


class SourceScan:
    """The question "which of these imported files does git not track?",
    asked in the background while the recorder's other git commands run."""

    def __init__(self, toplevel: Path, candidates: dict[str, str]) -> None:
        self.toplevel = toplevel
        self.candidates = candidates  # asked of git by this scan
        self.known: set[str] = set()  # asked by earlier scans
        self._tracked: set[str] | None = None  # answered from the index file
        self._process: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, project: Path, excluded: list[Path]) -> SourceScan | None:
        toplevel = find_toplevel(project)
        if toplevel is None:
            return None  # not a repository: the git state check says so
        scan = cls(toplevel, imported_sources(toplevel, excluded))
        scan._ask_git()
        return scan

    def _ask_git(self) -> None:
        import subprocess

        if not self.candidates:
            return
        self._tracked = tracked_by_index(self.toplevel, list(self.candidates))
        if self._tracked is not None:
            return
        try:
            self._process = subprocess.Popen(
                [*_GIT, "ls-files", "-z", "--", *sorted(self.candidates)],
                cwd=self.toplevel,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            self._process = None

    def untracked(self) -> list[str]:
        """The candidates git does not track (untracked or ignored), sorted."""
        if self._tracked is not None:
            return sorted(n for n in self.candidates if n not in self._tracked)
        if self._process is None:
            return []
        out, _ = self._process.communicate()
        if self._process.returncode != 0:
            return []  # git refused (not our repository after all): nothing known
        tracked = {name for name in out.decode("utf-8", "replace").split("\0") if name}
        return sorted(name for name in self.candidates if name not in tracked)

    def later(self, excluded: list[Path]) -> SourceScan:
        """A scan of the modules imported since this one (and its ancestors)."""
        now = imported_sources(self.toplevel, excluded)
        known = self.known | set(self.candidates)
        scan = SourceScan(
            self.toplevel, {k: v for k, v in now.items() if k not in known}
        )
        scan.known = known
        scan._ask_git()
        return scan


def tracked_by_index(toplevel: Path, names: list[str]) -> set[str] | None:
    """Which of ``names`` the index of ``toplevel``'s repository lists, or
    None when the index cannot be read this way (then git is asked).

    An index entry (versions 2 and 3) is a fixed 62-byte header ending in
    16 bits of flags whose low 12 bits are the path's length (with 2 bytes of
    extended flags after them in version 3), then the path, then a NUL. A
    candidate is tracked when its bytes occur with that NUL after them and
    those length bits before them.
    """
    if "GIT_INDEX_FILE" in os.environ or "GIT_DIR" in os.environ:
        return None
    git_dir = git_dir_of(toplevel)
    if git_dir is None:
        return None
    try:
        if any(n.startswith("sharedindex.") for n in os.listdir(git_dir)):
            return None  # a split index keeps entries in another file
        with open(os.path.join(git_dir, "index"), "rb") as index:
            data = index.read()
    except OSError:
        return None
    if data[:4] != b"DIRC" or int.from_bytes(data[4:8], "big") not in (2, 3):
        return None
    return {name for name in names if _in_index(data, os.fsencode(name))}


def _in_index(data: bytes, path: bytes) -> bool:
    needle = path + b"\0"
    length = min(len(path), 0xFFF)
    start = data.find(needle, 12)
    while start != -1:
        flags = int.from_bytes(data[start - 2 : start], "big")
        if flags & 0xFFF == length:
            return True
        flags_before_extended = int.from_bytes(data[start - 4 : start - 2], "big")
        if flags_before_extended & 0x4000 and flags_before_extended & 0xFFF == length:
            return True
        start = data.find(needle, start + 1)
    return False


def git_dir_of(toplevel: Path) -> str | None:
    """``toplevel/.git``, or where a ``.git`` file (a worktree, a submodule)
    points."""
    dot_git = os.path.join(toplevel, ".git")
    if os.path.isdir(dot_git):
        return dot_git
    try:
        with open(dot_git, encoding="utf-8") as pointer:
            text = pointer.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text.startswith("gitdir:"):
        return None
    target = text[len("gitdir:") :].strip()
    return os.path.join(toplevel, target) if not os.path.isabs(target) else target


def copy_sources(folder: Path, toplevel: Path, names: list[str]) -> list[str]:
    """Copy ``names`` (relative to ``toplevel``) into ``folder/sources/``;
    return the ones copied (a file deleted since it was imported is not)."""
    copied = []
    for name in names:
        try:
            data = (toplevel / name).read_bytes()
        except OSError:
            continue
        target = folder / SOURCES_FOLDER / name
        target.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(target, data)
        copied.append(name)
    return copied
