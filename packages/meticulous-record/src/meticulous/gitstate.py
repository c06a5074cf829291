"""What the git repository says about the code being run.

The recorder calls the ``git`` command directly rather than GitPython:
importing GitPython alone takes about 120 ms, most of the start-up budget,
and GitPython runs the same ``git`` binary underneath. A clean run costs two
short ``git`` processes started together: ``git status`` (whether tracked
files changed; untracked files are not scanned, which is what makes it cheap
in big repositories) and ``git log -1`` (HEAD's sha and message). Only a dirty run allowed by ``allow_dirty`` pays for the diff and
the untracked listing.

``--no-optional-locks`` stops ``git status`` from refreshing the index:
the recorder must never write to the user's repository.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .exceptions import DirtyRepoException, NotAGitRepositoryError

if TYPE_CHECKING:
    import subprocess

_GIT = ("git", "--no-optional-locks", "-c", "core.quotepath=off")


class RepoState:
    """HEAD's sha and message, and the tracked files that differ from it."""

    __slots__ = ("changed_files", "directory", "message", "sha")

    def __init__(
        self, sha: str, message: str, changed_files: list[str], directory: str
    ):
        self.sha = sha
        self.message = message
        self.changed_files = changed_files  # relative to the repository's root
        self.directory = directory

    @property
    def dirty(self) -> bool:
        return bool(self.changed_files)


def read_repo_state(
    project_directory: str | os.PathLike[str], toplevel: Path | None = None
) -> RepoState:
    """Inspect the repository holding ``project_directory``; change nothing.

    With the work tree's ``toplevel`` known, HEAD's message is read from its
    loose object when it is one (:mod:`gitobjects`), saving ``git log``.
    """
    import subprocess

    cwd = os.fspath(project_directory)
    status_command = [*_GIT, "status", "--porcelain=v2", "--branch", "-z"]
    status_command += ["--untracked-files=no", "--ignore-submodules=none"]
    try:
        status = _start(status_command, cwd)
        local = None
        if toplevel is not None:
            from .gitobjects import head_commit

            local = head_commit(toplevel)
        head = None
        if local is None:
            head = _start([*_GIT, "log", "-1", "--format=%H%x00%B", "HEAD"], cwd)
    except FileNotFoundError:
        raise NotAGitRepositoryError(
            "the git command was not found: meticulous needs git to record "
            "which code ran"
        ) from None
    status_out, status_err = status.communicate()
    head_out, _ = head.communicate() if head is not None else (b"", b"")
    if status.returncode != 0:
        reason = status_err.decode("utf-8", "replace").strip()
        raise NotAGitRepositoryError(
            f"the project directory {cwd} is not inside a usable git repository "
            f"(git says: {reason}); meticulous records the commit of the code, "
            f"so the code must be in a git repository"
        )
    sha, changed = _parse_status(status_out)
    if sha is None:
        raise NotAGitRepositoryError(
            f"the git repository of {cwd} has no commit yet: commit your code first"
        )
    if local is not None and local[0] == sha:
        return RepoState(sha, local[1], changed, cwd)
    logged_sha, _, message = head_out.decode("utf-8", "replace").partition("\0")
    if head is None or head.returncode != 0 or logged_sha != sha:  # HEAD moved
        command = [*_GIT, "log", "-1", "--format=%B", sha]
        rerun = subprocess.run(command, cwd=cwd, capture_output=True, check=True)
        message = rerun.stdout.decode("utf-8", "replace")
    return RepoState(sha, message.removesuffix("\n"), changed, cwd)


def require_clean(state: RepoState, untracked_sources: list[str] = ()) -> None:  # type: ignore[assignment]
    """Refuse a run whose tracked files differ from HEAD, or that imported
    files git does not track (spec 11)."""
    if state.dirty or untracked_sources:
        raise DirtyRepoException(
            _toplevel(state), state.changed_files, untracked_sources
        )


def dirty_details(state: RepoState, exclude: Path | None) -> tuple[bytes, str]:
    """``git diff HEAD`` (binary-safe) and the untracked files, one per line.

    ``exclude`` (the experiments directory, when it lies inside the repo) is
    left out of the untracked listing: it is meticulous's own output.
    """
    import subprocess

    diff = subprocess.run(
        [*_GIT, "diff", "--binary", "HEAD"],
        cwd=_toplevel(state),
        capture_output=True,
        check=True,
    ).stdout
    listing = [*_GIT, "ls-files", "--others", "--exclude-standard", "-z", "--", "."]
    excluded = _relative_inside(exclude, Path(_toplevel(state))) if exclude else None
    if excluded:
        listing.append(f":(exclude,top){excluded}")
    untracked = subprocess.run(
        listing, cwd=_toplevel(state), capture_output=True, check=True
    ).stdout
    names = [n for n in untracked.decode("utf-8", "replace").split("\0") if n]
    return diff, "".join(f"{name}\n" for name in names)


def _toplevel(state: RepoState) -> str:
    """The repository's root; status paths are relative to it."""
    import subprocess

    command = [*_GIT, "rev-parse", "--show-toplevel"]
    found = subprocess.run(
        command, cwd=state.directory, capture_output=True, check=False
    )
    return found.stdout.decode("utf-8", "replace").rstrip("\n") or state.directory


def _start(command: list[str], cwd: str) -> subprocess.Popen[bytes]:
    import subprocess

    return subprocess.Popen(
        command,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _parse_status(output: bytes) -> tuple[str | None, list[str]]:
    sha = None
    changed = []
    records = iter(output.decode("utf-8", "replace").split("\0"))
    for record in records:
        if record.startswith("# branch.oid "):
            oid = record[len("# branch.oid ") :]
            sha = None if oid == "(initial)" else oid
        elif record.startswith("1 "):
            changed.append(record.split(" ", 8)[8])
        elif record.startswith("2 "):
            changed.append(record.split(" ", 9)[9])
            next(records, None)  # the rename's original path
        elif record.startswith("u "):
            changed.append(record.split(" ", 10)[10])
    return sha, changed


def _relative_inside(path: Path, root: Path) -> str | None:
    try:
        relative = path.resolve().relative_to(root.resolve())
    except ValueError:
        return None
    return relative.as_posix() if str(relative) != "." else None
