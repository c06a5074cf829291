"""Helpers for the recorder's tests: throwaway git repos and scripts run as
separate processes (exit-time behaviour can only be seen from outside).

A module of its own (not conftest) so that its name cannot clash with the
other suites' conftest modules when several suites run in one pytest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SPEC = Path(__file__).parents[2] / "spec"
GIT_IDENTITY = [
    "-c",
    "user.name=t",
    "-c",
    "user.email=t@e",
    "-c",
    "commit.gpgsign=false",
]


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with a local identity (CI may have no global config)."""
    done = subprocess.run(
        ["git", *GIT_IDENTITY, *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def commit_all(repo: Path, message: str = "update") -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def write_script(repo: Path, name: str, body: str, *, commit: bool = True) -> Path:
    """Write a Python script into the repo (and commit it, so the repo is clean)."""
    path = repo / name
    path.write_text(textwrap.dedent(body))
    if commit:
        commit_all(repo, f"Add {name}")
    return path


def run(
    repo: Path,
    script: str,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``python script args`` in ``repo`` and wait for it."""
    return subprocess.run(
        [sys.executable, script, *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env=child_env(env),
    )


def start(
    repo: Path, script: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, script, *args],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(env),
    )


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment minus anything a launcher or SLURM would have set."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("METICULOUS_", "SLURM_"))
    }
    env.update(extra or {})
    return env


def read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def status_of(folder: Path) -> tuple[str, str]:
    word, _, message = (folder / "STATUS").read_text().partition("\n")
    return word, message


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``directory`` with its bytes and mtime, to prove nothing changed."""
    return {
        str(path.relative_to(directory)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def wait_for(predicate, timeout: float = 20.0) -> None:
    """Poll ``predicate`` until true (used to wait for a child to get going)."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the child process")
        time.sleep(0.02)
