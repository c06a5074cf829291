"""Helpers for the recorder's tests: throwaway git repos and scripts run as
separate processes (exit-time behaviour can only be seen from outside).

A module of its own (not conftest) so that its name cannot clash with the
other suites' conftest modules when several suites run in one pytest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers.folders import read_json, status_of
from helpers.git import commit_all, git, write_script
from helpers.processes import child_env, wait_for

# What the suite's tests import, the shared helpers included.
__all__ = [
    "SPEC",
    "child_env",
    "commit_all",
    "git",
    "read_json",
    "run",
    "snapshot",
    "start",
    "status_of",
    "wait_for",
    "write_script",
]

SPEC = Path(__file__).parents[2] / "spec"


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


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``directory`` with its bytes and mtime, to prove nothing changed."""
    return {
        str(path.relative_to(directory)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }
