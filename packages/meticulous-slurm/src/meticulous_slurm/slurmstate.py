"""Ask SLURM what became of a sweep's jobs.

``squeue`` knows the jobs that are still pending or running (one line per
array task with ``-r``); ``sacct`` knows the finished ones, as long as
accounting is on. Either may be missing or fail: then the jobs are simply
unknown and the folders' STATUS files are all there is to go by.
"""

from __future__ import annotations

import dataclasses
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
# Final states that say the job did not do its work, whatever its folder says.
FAILURE_STATES = frozenset(
    {
        "FAILED",
        "OUT_OF_MEMORY",
        "NODE_FAIL",
        "TIMEOUT",
        "PREEMPTED",
        "CANCELLED",
        "BOOT_FAIL",
        "DEADLINE",
        "REVOKED",
    }
)
# When a job's own line and its steps' lines differ, the most specific
# failure wins: an OOM-killed step makes a FAILED (or COMPLETED) job an
# OUT_OF_MEMORY one, a failed srun step makes a COMPLETED job FAILED.
STEP_PRECEDENCE = ("OUT_OF_MEMORY", "NODE_FAIL", "FAILED")
COMMAND_TIMEOUT_S = 60


@dataclass(frozen=True)
class JobState:
    state: str  # first word of SLURM's state: "CANCELLED by 0" -> "CANCELLED"
    exit_code: str = ""  # sacct's "code:signal"; empty for live jobs
    step: str = ""  # the step whose state this is, when not the job's own
    # The array's shared record, which only tasks that never started share:
    # true of a folder still QUEUED, not of one a run claimed.
    shared: bool = False

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    @property
    def pending(self) -> bool:
        return self.state in PENDING_STATES

    @property
    def failed(self) -> bool:
        """Ended without doing its work: never a success, whatever the folder says."""
        return self.state in FAILURE_STATES

    def describe(self) -> str:
        code = (
            f", exit code {self.exit_code}" if self.exit_code not in ("", "0:0") else ""
        )
        step = f" (step {self.step})" if self.step else ""
        return f"{self.state}{step}{code}"


def query_job_states(job_ids: Iterable[str]) -> dict[str, JobState]:
    """The state of each job id (``"123"`` or ``"123_4"``) SLURM still knows."""
    wanted = sorted(set(job_ids))
    if not wanted:
        return {}
    parents = sorted({job_id.split("_")[0] for job_id in wanted})
    states: dict[str, JobState] = {}
    for job_id, state in _squeue(parents).items():
        states[job_id] = JobState(state)
    missing = [
        job_id
        for job_id in wanted
        if job_id not in states or states[job_id].state == "COMPLETING"
    ]
    if missing:
        finished = _sacct(sorted({job_id.split("_")[0] for job_id in missing}))
        for job_id in missing:
            known = finished.get(job_id) or _array_record_state(job_id, finished)
            if known is not None:
                states[job_id] = known
    return {job_id: states[job_id] for job_id in wanted if job_id in states}


def _array_record_state(job_id: str, finished: dict[str, JobState]) -> JobState | None:
    """The state of an array task that sacct lists only under the array's
    own id: the tasks that never started share the array's record, and for
    a while after such a task is cancelled (``scancel 316_1`` while 316_0
    runs, ``%1``) accounting shows that record as ``316|CANCELLED by 0``
    before it names it ``316_1``. Tasks with a record of their own are
    listed as ``316_0`` once accounting has them, so the shared record
    speaks only for a task that never started (``JobState.shared``)."""
    parent, underscore, _ = job_id.partition("_")
    state = finished.get(parent) if underscore else None
    return dataclasses.replace(state, shared=True) if state is not None else None


def cancel_jobs(job_ids: Iterable[str]) -> str | None:
    """``scancel`` the jobs; returns an error message or None."""
    wanted = sorted(set(job_ids))
    if not wanted:
        return None
    if shutil.which("scancel") is None:
        return "scancel is not on PATH"
    completed = run_command(["scancel", *wanted])
    if completed is None:
        return "scancel did not answer"
    if completed.returncode != 0:
        return completed.stderr.strip() or f"scancel exited with {completed.returncode}"
    return None


def run_command(command: list[str]) -> subprocess.CompletedProcess | None:
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
        completed = run_command(["squeue", "-h", "-r", "-j", parent, "-o", "%i|%T"])
        if completed is None or completed.returncode != 0:
            continue
        for line in completed.stdout.splitlines():
            job_id, _, state = line.strip().partition("|")
            if job_id and state:
                found[job_id] = state.split()[0]
    return found


def _sacct(parents: list[str]) -> dict[str, JobState]:
    """Final states from accounting, the jobs' steps included (no ``-X``):
    a job whose step ran out of memory can itself say FAILED or COMPLETED."""
    if shutil.which("sacct") is None:
        return {}
    completed = run_command(
        ["sacct", "-n", "-P", "-o", "JobID,State,ExitCode", "-j", ",".join(parents)]
    )
    if completed is None or completed.returncode != 0:
        return {}
    return parse_sacct(completed.stdout)


def parse_sacct(text: str) -> dict[str, JobState]:
    """One state per job id, from ``sacct -n -P -o JobID,State,ExitCode``.

    A job array's own record, the one its tasks share until they start,
    is listed as a range (``425_[0-1%1]``) and may still name tasks that
    have started since and have a line of their own: when a pending task is
    cancelled before accounting has updated the range, it stays
    ``425_[0-1%1]|CANCELLED`` for good, beside ``425_0|COMPLETED``. A task's
    own line therefore always wins, and what the range says is marked
    ``shared`` (true only of tasks that never started).
    """
    jobs: dict[str, JobState] = {}
    shared: dict[str, JobState] = {}
    steps: dict[str, list[JobState]] = {}
    for line in text.splitlines():
        fields = line.strip().split("|")
        if len(fields) < 3 or not fields[0]:
            continue
        job_id, _, step = fields[0].partition(".")
        state = fields[1].split()[0] if fields[1] else "UNKNOWN"
        if step:
            steps.setdefault(job_id, []).append(JobState(state, fields[2], step))
            continue
        expanded = expand_job_id(job_id)
        if expanded == [job_id]:
            jobs[job_id] = JobState(state, fields[2])
        else:
            for task in expanded:
                shared[task] = JobState(state, fields[2], shared=True)
    return {
        job_id: _with_steps(job, steps.get(job_id, []))
        for job_id, job in {**shared, **jobs}.items()
    }


def _with_steps(job: JobState, steps: list[JobState]) -> JobState:
    if job.live or job.state in ("CANCELLED", "TIMEOUT", "PREEMPTED", "NODE_FAIL"):
        return job
    for wanted in STEP_PRECEDENCE:
        if job.state == wanted:
            break
        for step in steps:
            if step.state == wanted and step.step != "extern":
                return step
    return job


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
