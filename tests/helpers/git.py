"""Throwaway git repositories for tests: one identity, one way to commit.

CI may have no global git configuration, so every call carries its own
identity, and commit signing is off whatever the machine says.
"""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

GIT_IDENTITY = [
    "-c",
    "user.name=t",
    "-c",
    "user.email=t@e",
    "-c",
    "commit.gpgsign=false",
]


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo``; its stdout (raises ``CalledProcessError`` on failure)."""
    done = subprocess.run(
        ["git", *GIT_IDENTITY, *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def commit_all(repo: Path, message: str = "update") -> str:
    """Commit everything in the work tree (even nothing); the new HEAD's sha."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def make_repo(
    path: Path,
    files: Mapping[str, str] | None = None,
    *,
    ignore: Sequence[str] = ("experiments/",),
    message: str = "Initial commit",
) -> Path:
    """A new repository at ``path`` holding ``files`` (dedented) in one commit.

    ``ignore`` goes to ``.gitignore`` (none when empty), so what the tools
    write never makes the tree dirty.
    """
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    if ignore:
        (path / ".gitignore").write_text("".join(f"{name}\n" for name in ignore))
    for name, text in (files or {}).items():
        (path / name).write_text(textwrap.dedent(text))
    commit_all(path, message)
    return path


def write_script(repo: Path, name: str, body: str, *, commit: bool = True) -> Path:
    """Write a (dedented) script into the repo, and commit it so the tree is clean."""
    path = repo / name
    path.write_text(textwrap.dedent(body))
    if commit:
        commit_all(repo, f"Add {name}")
    return path
