"""Ask SLURM what became of a sweep's jobs.

``squeue`` knows the jobs that are still pending or running (one line per
array task with ``-r``); ``sacct`` knows the finished ones, as long as
accounting is on. Either may be missing or fail: then the jobs are simply
unknown and the folders' STATUS files are all there is to go by.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass

PENDING_STATES = frozenset(
    {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SUSPENDED"}
)
RUNNING_STATES = frozenset(
    {
        "RUNNING",
        "CONFIGURING",
        "COMPLETING",
        "SIGNALING",
        "STAGE_OUT",
        "RESIZING",
        "STOPPED",
    }
)
LIVE_STATES = PENDING_STATES | RUNNING_STATES
COMMAND_TIMEOUT_S = 60


@dataclass(frozen=True)
class JobState:
    state: str  # first word of SLURM's state: "CANCELLED by 0" -> "CANCELLED"
    exit_code: str = ""  # sacct's "code:signal"; empty for live jobs

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    @property
    def pending(self) -> bool:
        return self.state in PENDING_STATES


def query_job_states(job_ids: Iterable[str]) -> dict[str, JobState]:
    """The state of each job id (``"123"`` or ``"123_4"``) SLURM still knows."""
    wanted = sorted(set(job_ids))
    if not wanted:
        return {}
    parents = sorted({job_id.split("_")[0] for job_id in wanted})
    states: dict[str, JobState] = {}
    for job_id, state in _squeue(parents).items():
        states[job_id] = JobState(state)
    missing = [job_id for job_id in wanted if job_id not in states]
    if missing:
        finished = _sacct(sorted({job_id.split("_")[0] for job_id in missing}))
        for job_id in missing:
            if job_id in finished:
                states[job_id] = finished[job_id]
    return {job_id: states[job_id] for job_id in wanted if job_id in states}


def cancel_jobs(job_ids: Iterable[str]) -> str | None:
    """``scancel`` the jobs; returns an error message or None."""
    wanted = sorted(set(job_ids))
    if not wanted:
        return None
    if shutil.which("scancel") is None:
        return "scancel is not on PATH"
    completed = _run(["scancel", *wanted])
    if completed is None:
        return "scancel did not answer"
    if completed.returncode != 0:
        return completed.stderr.strip() or f"scancel exited with {completed.returncode}"
    return None


def _run(command: list[str]) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None


def _squeue(parents: list[str]) -> dict[str, str]:
    if shutil.which("squeue") is None:
        return {}
    found: dict[str, str] = {}
    # squeue refuses the whole request when one id is unknown to it (purged
    # after MinJobAge), so ask for each array job on its own.
    for parent in parents:
        completed = _run(["squeue", "-h", "-r", "-j", parent, "-o", "%i|%T"])
        if completed is None or completed.returncode != 0:
            continue
        for line in completed.stdout.splitlines():
            job_id, _, state = line.strip().partition("|")
            if job_id and state:
                found[job_id] = state.split()[0]
    return found


def _sacct(parents: list[str]) -> dict[str, JobState]:
    if shutil.which("sacct") is None:
        return {}
    completed = _run(
        [
            "sacct",
            "-n",
            "-P",
            "-X",
            "-o",
            "JobID,State,ExitCode",
            "-j",
            ",".join(parents),
        ]
    )
    if completed is None or completed.returncode != 0:
        return {}
    found: dict[str, JobState] = {}
    for line in completed.stdout.splitlines():
        fields = line.strip().split("|")
        if len(fields) < 3 or not fields[0]:
            continue
        state = JobState(fields[1].split()[0] if fields[1] else "UNKNOWN", fields[2])
        for job_id in expand_job_id(fields[0]):
            found[job_id] = state
    return found


_ARRAY_RANGE = re.compile(r"^(\d+)_\[([0-9,\-]+)(?:%\d+)?\]$")


def expand_job_id(text: str) -> list[str]:
    """``123_[0-3,7%2]`` -> ``123_0 ... 123_3, 123_7``; plain ids unchanged."""
    match = _ARRAY_RANGE.match(text)
    if not match:
        return [text]
    parent, ranges = match.groups()
    expanded = []
    for part in ranges.split(","):
        low, _, high = part.partition("-")
        if not low:
            continue
        for task in range(int(low), int(high or low) + 1):
            expanded.append(f"{parent}_{task}")
    return expanded
