"""Facts about the running process that go into ``metadata.json``.

Kept apart from the experiment so that a start, a resume and a claim of a
reservation describe the process in exactly the same way (spec 2.2).
"""

from __future__ import annotations

import os
import sys
from typing import Any

SPEC_VERSION = 1

# metadata key -> SLURM variable; restart-count is the only integer.
_SLURM_VARIABLES = {
    "job-id": "SLURM_JOB_ID",
    "array-job-id": "SLURM_ARRAY_JOB_ID",
    "array-task-id": "SLURM_ARRAY_TASK_ID",
    "node": "SLURMD_NODENAME",
    "partition": "SLURM_JOB_PARTITION",
}


def now() -> str:
    """The current time, ISO 8601 with microseconds and the UTC offset."""
    from datetime import datetime, timedelta, timezone

    utc = timezone(timedelta(0))  # timezone.utc, spelled so on Python 3.9 too
    return datetime.now(utc).isoformat(timespec="microseconds")


def hostname() -> str:
    """``socket.gethostname()``; on POSIX that is uname's node name, which
    needs no import of ``socket``."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


def python_version() -> str:
    """``platform.python_version()`` without importing ``platform`` (it
    compiles a dozen regular expressions): the first word of sys.version."""
    return sys.version.split()[0]


def process_metadata() -> dict[str, Any]:
    """Who runs the experiment right now: command, cwd, host, pid, python."""
    info: dict[str, Any] = {
        "command": list(sys.argv),
        "cwd": os.getcwd(),
        "host": hostname(),
        "pid": os.getpid(),
        "python-version": python_version(),
    }
    slurm = slurm_metadata(os.environ)
    if slurm is not None:
        info["slurm"] = slurm
    return info


def slurm_metadata(environ: Any) -> dict[str, Any] | None:
    """The SLURM job this process runs in, or None outside SLURM."""
    if "SLURM_JOB_ID" not in environ:
        return None
    slurm: dict[str, Any] = {
        key: environ.get(var) for key, var in _SLURM_VARIABLES.items()
    }
    restarts = environ.get("SLURM_RESTART_COUNT", "0")
    slurm["restart-count"] = int(restarts) if restarts.isdigit() else 0
    return slurm
