"""Where each point of a sweep stands, told honestly.

The experiment folders' STATUS files are the truth about runs that started.
They cannot tell about a job that never started (cancelled while pending,
refused by the node) or died without a last word (the node failed, the job
was killed at its time limit): the scheduler knows those. So the category of
a point is decided from both, and when SLURM says a job is over but its folder
still says ``QUEUED`` or ``RUNNING``, the folder gets the terminal status the
job really reached (``CANCELLED`` or ``ERROR`` with SLURM's state), so readers
that never ask SLURM see the truth too.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .folders import heartbeat_is_stale, read_status
from .localqueue import queue_is_alive, read_queue_state
from .slurmstate import JobState, query_job_states

CATEGORIES = ("queued", "running", "succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class PointStatus:
    index: int
    experiment_id: str
    job_id: str | None
    word: str  # the folder's STATUS word (after reconciling)
    message: str
    scheduler_state: str | None
    category: str


def latest_job_id(point: dict[str, Any]) -> str | None:
    job_ids = point.get("job-ids") or []
    return job_ids[-1] if job_ids else None


def sweep_status(
    sweep_folder: Path, record: dict[str, Any], *, reconcile: bool = True
) -> list[PointStatus]:
    """The status of every point; with ``reconcile``, fix folders SLURM contradicts."""
    experiments = Path(record["experiments-directory"])
    if record["executor"] == "slurm":
        job_ids = [latest_job_id(p) for p in record["points"]]
        states = query_job_states(j for j in job_ids if j)
        return [
            _slurm_point(
                point, experiments, states.get(job_id) if job_id else None, reconcile
            )
            for point, job_id in zip(record["points"], job_ids)
        ]
    queue = read_queue_state(sweep_folder)
    alive = queue_is_alive(queue)
    return [
        _local_point(point, experiments, queue, alive, reconcile)
        for point in record["points"]
    ]


def _slurm_point(
    point: dict[str, Any], experiments: Path, state: JobState | None, reconcile: bool
) -> PointStatus:
    folder = experiments / point["experiment-id"]
    word, message = read_status(folder)
    job_id = latest_job_id(point)
    ended = state is not None and not state.live
    if ended and reconcile and word in ("QUEUED", "RUNNING"):
        word, message = _record_scheduler_ending(folder, word, job_id, state)
    if word == "SUCCESS":
        category = "succeeded"
    elif state is not None and state.live:
        # A resubmitted or requeued point: the folder still shows how the
        # previous attempt ended, the scheduler knows it is coming back.
        category = "queued" if state.pending else "running"
    else:
        category = _category_of_word(word, folder)
    return PointStatus(
        point["index"],
        point["experiment-id"],
        job_id,
        word,
        message,
        state.state if state else None,
        category,
    )


def _local_point(
    point: dict[str, Any],
    experiments: Path,
    queue: dict[str, Any] | None,
    alive: bool,
    reconcile: bool,
) -> PointStatus:
    folder = experiments / point["experiment-id"]
    word, message = read_status(folder)
    index = str(point["index"])
    job_id = (queue or {}).get("job-ids", {}).get(index)
    scheduler_state = None
    if alive and point["index"] in queue.get("pending", []):
        scheduler_state = "PENDING"
    elif alive and index in queue.get("running", {}):
        scheduler_state = "RUNNING"
    if word == "SUCCESS":
        category = "succeeded"
    elif scheduler_state == "PENDING":
        category = "queued"
    elif scheduler_state == "RUNNING":
        category = "running"
    elif word == "QUEUED" and not alive:
        if reconcile and queue is not None:
            from meticulous.status import write_status

            message = "the local queue stopped before this point started"
            write_status(folder, "CANCELLED", message)
            word = "CANCELLED"
        category = "cancelled" if word == "CANCELLED" else "queued"
    else:
        category = _category_of_word(word, folder)
    return PointStatus(
        point["index"],
        point["experiment-id"],
        job_id,
        word,
        message,
        scheduler_state,
        category,
    )


def _category_of_word(word: str, folder: Path) -> str:
    if word == "SUCCESS":
        return "succeeded"
    if word == "QUEUED":
        return "queued"
    if word == "RUNNING":
        return "failed" if heartbeat_is_stale(folder) else "running"
    if word == "CANCELLED":
        return "cancelled"
    return "failed"  # ERROR, INTERRUPTED, an unknown word, a missing STATUS


def _record_scheduler_ending(
    folder: Path, word: str, job_id: str | None, state: JobState
) -> tuple[str, str]:
    from meticulous.status import write_status

    exit_code = f", exit code {state.exit_code}" if state.exit_code else ""
    when = "before it started" if word == "QUEUED" else "while it ran"
    if state.state == "CANCELLED":
        new_word = "CANCELLED"
        message = f"slurm job {job_id} was cancelled {when}"
    else:
        new_word = "ERROR"
        message = f"slurm job {job_id} ended {state.state}{exit_code} {when}"
        if word == "RUNNING":
            message += "; the run ended without writing a final status"
    # Re-read just before writing: the run may have written its own ending.
    if read_status(folder)[0] == word:
        write_status(folder, new_word, message)
        return new_word, message
    return read_status(folder)


def count(statuses: list[PointStatus]) -> dict[str, int]:
    counts = {category: 0 for category in CATEGORIES}
    for status in statuses:
        counts[status.category] += 1
    return counts


def format_counts(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    return ", ".join(f"{counts[c]} {c}" for c in CATEGORIES) + f" (of {total})"


def is_done(counts: dict[str, int]) -> bool:
    return counts["queued"] == 0 and counts["running"] == 0


def wait_for_sweep(
    sweep_folder: Path, record: dict[str, Any], out: TextIO, *, poll_s: float = 2.0
) -> dict[str, int]:
    """Block until no point is queued or running, printing a line per change
    (plain lines, so the output reads well in a log file or a pipe)."""
    last_line = None
    last_category: dict[int, str] = {}
    while True:
        statuses = sweep_status(sweep_folder, record)
        for status in statuses:
            before = last_category.get(status.index)
            if status.category != before and status.category in ("failed", "cancelled"):
                first_line = status.message.splitlines()[-1] if status.message else ""
                out.write(
                    f"{_clock()} point {status.index} (experiment {status.experiment_id}) "
                    f"{status.word}{': ' + first_line if first_line else ''}\n"
                )
            last_category[status.index] = status.category
        counts = count(statuses)
        line = format_counts(counts)
        if line != last_line:
            out.write(f"{_clock()} {line}\n")
            out.flush()
            last_line = line
        if is_done(counts):
            return counts
        time.sleep(poll_s)


def _clock() -> str:
    return datetime.datetime.now().strftime("[%H:%M:%S]")
