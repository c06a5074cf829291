"""Helpers of the shared-filesystem suite (a module of its own, not conftest,
so its name cannot clash with other suites' helpers)."""

from __future__ import annotations

import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from helpers.git import commit_all, git, write_script
from helpers.processes import child_env, wait_for

# What the suite's tests import, the shared helpers included.
__all__ = [
    "Mounts",
    "child_env",
    "commit_all",
    "git",
    "start",
    "status_through",
    "wait_for",
    "write_script",
]


@dataclass(frozen=True)
class Mounts:
    export: Path  # the server's side
    short: Path  # through sshfs, attr_timeout=1
    long: Path  # through sshfs, attr_timeout=90


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
