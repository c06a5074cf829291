"""Helpers of the shared-filesystem suite (a module of its own, not conftest,
so its name cannot clash with other suites' helpers)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

GIT_IDENTITY = [
    "-c",
    "user.name=t",
    "-c",
    "user.email=t@e",
    "-c",
    "commit.gpgsign=false",
]


@dataclass(frozen=True)
class Mounts:
    export: Path  # the server's side
    short: Path  # through sshfs, attr_timeout=1
    long: Path  # through sshfs, attr_timeout=90


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *GIT_IDENTITY, *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def commit_all(repo: Path, message: str = "update") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)


def write_script(repo: Path, name: str, body: str) -> None:
    (repo / name).write_text(textwrap.dedent(body))
    commit_all(repo, f"Add {name}")


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("METICULOUS_", "SLURM_"))
    }
    env.update(extra or {})
    return env


def start(
    repo: Path,
    *argv: str,
    env: dict[str, str] | None = None,
    prefix: tuple[str, ...] = (),
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*prefix, sys.executable, *argv],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(env),
    )


def status_through(directory: Path, experiment_id: str) -> tuple[str, str]:
    """(status, message) as the reader reports them, read through ``directory``."""
    from meticulous_read import Experiments, MeticulousReadWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeticulousReadWarning)
        experiment = Experiments(directory)[experiment_id]
        return experiment.status, experiment.status_message


def wait_for(predicate, timeout: float = 30.0, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(step)
