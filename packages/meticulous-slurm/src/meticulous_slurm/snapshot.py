"""Freeze the code a sweep runs, so editing the working tree cannot change it.

Jobs may wait in the queue for days while the researcher keeps editing. Each
sweep therefore runs from its own checkout of the submitted commit: a
``git clone --shared --no-checkout`` (objects borrowed from the user's repo,
so it costs only the checked-out files) followed by a detached checkout of
the sha. The recorder inside each job then sees a clean repo at exactly the
commit the reservation names. The user's repository is only read.

With ``allow_dirty`` the uncommitted changes (``git diff HEAD``) are applied
to the checkout and untracked files are copied, so the jobs run what the user
sees; the recorder then records the patch itself.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .background import run_concurrently
from .errors import SweepError


@dataclass(frozen=True)
class SweepSource:
    """What the sweep is submitted from: the work tree and its changes, which
    the snapshot copies (the recorder's ``gitstate.RepoState`` is what one
    run records of its repository)."""

    root: Path  # top of the work tree
    project_relative: Path  # the project directory inside it
    sha: str
    changed: tuple[str, ...]  # tracked files with uncommitted changes
    untracked: tuple[str, ...]  # untracked, not ignored (when asked for)

    @property
    def dirty(self) -> bool:
        return bool(self.changed)


def _git(directory: Path, *args: str) -> str:
    """git's output as text (names, shas)."""
    return _git_bytes(directory, *args).decode(errors="surrogateescape")


def _git_bytes(directory: Path, *args: str) -> bytes:
    """git's output as git wrote it (a binary patch is not text)."""
    return _checked(_run_git(directory, *args), args, directory)


def _run_git(directory: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", "-C", str(directory), *args], capture_output=True, check=False
    )


def _checked(
    completed: subprocess.CompletedProcess, args: tuple[str, ...], directory: Path
) -> bytes:
    if completed.returncode != 0:
        stderr = completed.stderr.decode(errors="replace")
        raise SweepError(
            f"git {' '.join(args)} failed in {directory}: {stderr.strip()}"
        )
    return completed.stdout


# What inspect_repo asks, all at once from the project directory: the top of
# the work tree and HEAD in one call (it prints the top even when HEAD has no
# commit), the changed files (diff names them from the top), the untracked
# ones (``:/`` and --full-name: the whole tree, named from the top).
_TOP_AND_HEAD = ("rev-parse", "--show-toplevel", "--verify", "HEAD^{commit}")
_CHANGED = ("diff", "--name-only", "-z", "HEAD")
_UNTRACKED = ("ls-files", "--others", "--exclude-standard", "-z", "--full-name", ":/")


def inspect_repo(
    project_directory: Path,
    *,
    exclude: Path | None = None,
    untracked: bool = False,
) -> SweepSource:
    """Read the state of the repo holding ``project_directory``.

    The untracked files are listed only when asked (``untracked``: the
    snapshot copies them for ``allow_dirty``, and nothing else needs them);
    ``exclude`` (the experiments directory) is left out of them: experiment
    folders inside the project are output, not code.
    """
    if not project_directory.is_dir():
        raise SweepError(f"project directory {project_directory} does not exist")
    if shutil.which("git") is None:
        raise SweepError("git is not installed: a sweep needs it to freeze the code")
    queries = (
        (_TOP_AND_HEAD, _CHANGED, _UNTRACKED)
        if untracked
        else (_TOP_AND_HEAD, _CHANGED)
    )
    answers = run_concurrently(
        *(functools.partial(_run_git, project_directory, *args) for args in queries)
    )
    top_and_head, changed = answers[:2]
    lines = top_and_head.stdout.decode(errors="surrogateescape").splitlines()
    if not lines:
        raise SweepError(
            f"project directory {project_directory} is not inside a git repository"
            " (a sweep runs a committed version of the code)"
        )
    root = Path(lines[0]).resolve()
    if top_and_head.returncode != 0 or len(lines) < 2:
        raise SweepError(
            f"the repository {root} has no commit yet: commit the code first"
        )
    changed_names = _checked(changed, _CHANGED, root).decode(errors="surrogateescape")
    untracked_files: list[str] = []
    if untracked:
        names = _checked(answers[2], _UNTRACKED, root).decode(errors="surrogateescape")
        excluded = exclude.resolve() if exclude is not None else None
        untracked_files = [
            name
            for name in names.split("\0")
            if name and not (excluded and _is_inside(root / name, excluded))
        ]
    return SweepSource(
        root=root,
        project_relative=project_directory.resolve().relative_to(root),
        sha=lines[1].strip(),
        changed=tuple(name for name in changed_names.split("\0") if name),
        untracked=tuple(untracked_files),
    )


def refuse_if_dirty(state: SweepSource, allow_dirty: bool) -> None:
    """The same rule as the recorder: tracked changes need ``allow_dirty``."""
    if state.dirty and not allow_dirty:
        listed = "\n  ".join(state.changed)
        raise SweepError(
            f"the repository {state.root} has uncommitted changes:\n  {listed}\n"
            "commit them, or set 'allow_dirty: true' in the sweep file"
        )


def make_snapshot(state: SweepSource, destination: Path, *, allow_dirty: bool) -> Path:
    """Check out ``state.sha`` into ``destination``; return the project directory in it."""
    _git_bytes(
        state.root,
        "clone",
        "--quiet",
        "--shared",
        "--no-checkout",
        str(state.root),
        str(destination),
    )
    _git(
        destination,
        "-c",
        "advice.detachedHead=false",
        "checkout",
        "--quiet",
        "--detach",
        state.sha,
    )
    if allow_dirty:
        _apply_uncommitted(state, destination)
    return destination / state.project_relative


def _apply_uncommitted(state: SweepSource, destination: Path) -> None:
    if state.changed:
        patch = _git_bytes(state.root, "diff", "--binary", "HEAD")
        applied = subprocess.run(
            ["git", "-C", str(destination), "apply", "--binary", "--whitespace=nowarn"],
            input=patch,
            capture_output=True,
            check=False,
        )
        if applied.returncode != 0:
            raise SweepError(
                "could not apply the uncommitted changes to the sweep's code snapshot: "
                + applied.stderr.decode(errors="replace").strip()
            )
    for name in state.untracked:
        source = state.root / name
        if source.is_file() or source.is_symlink():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target, follow_symlinks=False)


def _is_inside(path: Path, directory: Path) -> bool:
    try:
        path.resolve().relative_to(directory)
        return True
    except ValueError:
        return False


def remove_snapshot(destination: Path) -> None:
    """Undo a snapshot after a failed submission (it holds no user data)."""
    if destination.exists():
        shutil.rmtree(destination, onerror=lambda *_: None)
