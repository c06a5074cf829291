"""Where each point of a sweep stands, told honestly.

The experiment folders' STATUS files are the truth about runs that started,
but not all of it: a job can be cancelled while pending, die without a last
word (node failure, time limit), or end FAILED or OUT_OF_MEMORY after rank 0
recorded SUCCESS while another rank crashed. The scheduler knows those. So a
point's category comes from both, and when the scheduler's final state
contradicts the folder, the folder gets the ending the job really had
(``CANCELLED``, or ``ERROR`` naming SLURM's state), so that readers which
never ask SLURM see the truth too. A scheduler failure is never a success.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from meticulous.status import CANCELLED, ERROR, INTERRUPTED, QUEUED, RUNNING, SUCCESS

from .backend import backend_named
from .folders import death_of_run, read_status
from .record import SweepRecord
from .slurmstate import JobState

CATEGORIES = ("queued", "running", "succeeded", "failed", "cancelled")
# Endings only the scheduler knows the cause of: a folder's own ERROR or
# INTERRUPTED then gets SLURM's word in front of its message.
SCHEDULER_ENDINGS = (
    "TIMEOUT",
    "OUT_OF_MEMORY",
    "NODE_FAIL",
    "PREEMPTED",
    "DEADLINE",
    "BOOT_FAIL",
)


@dataclass(frozen=True)
class PointStatus:
    index: int
    experiment_id: str
    job_id: str | None
    word: str  # the folder's STATUS word (after reconciling)
    message: str
    scheduler_state: str | None
    category: str
    log: str | None = None  # the job's stderr log, where there is one

    def as_json(self) -> dict:
        return {
            "point": self.index,
            "experiment": self.experiment_id,
            "job": self.job_id,
            "category": self.category,
            "status": self.word,
            "scheduler": self.scheduler_state,
            "message": self.message,
            "log": self.log,
        }


def sweep_status(
    sweep_folder: Path, record: SweepRecord, *, reconcile: bool = True
) -> list[PointStatus]:
    """The status of every point; with ``reconcile``, fix folders the scheduler contradicts."""
    states = backend_named(record.executor).states(record, sweep_folder)
    return [
        _point_status(record, point.index, states.get(point.index), reconcile)
        for point in record.points
    ]


def _point_status(
    record: SweepRecord, index: int, state: JobState | None, reconcile: bool
) -> PointStatus:
    point = record.points[index]
    folder = record.folder_of(index)
    word, message = read_status(folder)
    if state is not None and state.shared and word != QUEUED:
        state = None  # the array's record is not this started run's
    if state is not None and not state.live and reconcile:
        word, message = reconcile_folder(folder, word, point.latest_job_id, state)
    if state is not None and state.live:
        # A resubmitted or requeued point: the folder still shows how the
        # previous attempt ended, the scheduler knows it is coming back.
        category = "queued" if state.pending else "running"
    elif state is not None and state.failed and word == SUCCESS:
        category = "cancelled" if state.state == "CANCELLED" else "failed"
    else:
        category = category_of_word(word, folder)
    return PointStatus(
        index,
        point.experiment_id,
        point.latest_job_id,
        word,
        message,
        state.state if state else None,
        category,
        job_log(folder),
    )


def category_of_word(word: str, folder: Path) -> str:
    if word == SUCCESS:
        return "succeeded"
    if word == QUEUED:
        return "queued"
    if word == RUNNING:
        return "failed" if death_of_run(folder) else "running"
    if word == CANCELLED:
        return "cancelled"
    return "failed"  # ERROR, INTERRUPTED, an unknown word, a missing STATUS


def reconcile_folder(
    folder: Path, word: str, job_id: str | None, state: JobState
) -> tuple[str, str]:
    """Write the ending the scheduler saw into a folder that says otherwise."""
    from meticulous.status import write_status

    job = f"slurm job {job_id}" if job_id else "the job"
    if state.state == "CANCELLED" and word in (QUEUED, RUNNING, INTERRUPTED, ERROR):
        when = "before it started" if word == QUEUED else "while it ran"
        message = f"{job} was cancelled {when} (scancel or an administrator)"
        if word in (INTERRUPTED, ERROR):
            message += f"; the run had recorded {word}"
        new_word = CANCELLED
    elif word in (QUEUED, RUNNING):
        when = "before it started" if word == QUEUED else "while it ran"
        new_word = ERROR
        message = f"{job} ended {state.describe()} {when}"
        if word == RUNNING:
            message += "; the run ended without writing a final status"
        log = job_log(folder)
        if log:
            message += f"\nlog: {log}"
    elif word in (ERROR, INTERRUPTED) and state.state in SCHEDULER_ENDINGS:
        if message_of(folder).startswith(job):
            return read_status(folder)  # already told
        new_word = ERROR
        message = f"{job} ended {state.describe()}; the run had recorded {word}"
        previous = message_of(folder).strip()
        if previous:
            message += f": {previous}"
    elif word == SUCCESS and state.failed:
        new_word = CANCELLED if state.state == "CANCELLED" else ERROR
        message = (
            f"{job} ended {state.describe()} after the run recorded SUCCESS"
            " (another task of the job failed, or the job was killed while it finished)"
        )
    else:
        return read_status(folder)
    # Re-read just before writing: the run may have written its own ending.
    if read_status(folder)[0] == word:
        write_status(folder, new_word, message)
        return new_word, message
    return read_status(folder)


def message_of(folder: Path) -> str:
    return read_status(folder)[1]


def job_log(folder: Path) -> str | None:
    """The submitit stderr log of the folder's latest job, as the job recorded it."""
    import json

    try:
        metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    launcher = metadata.get("launcher") if isinstance(metadata, dict) else None
    log = launcher.get("submitit-stderr") if isinstance(launcher, dict) else None
    return log if isinstance(log, str) else None


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
    sweep_folder: Path, record: SweepRecord, out: TextIO, *, poll_s: float = 2.0
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
                out.write(
                    f"{_clock()} point {status.index} (experiment {status.experiment_id}) "
                    f"{describe_ending(status)}\n"
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


def describe_ending(status: PointStatus) -> str:
    """``ERROR (slurm: OUT_OF_MEMORY): <last line>``: both words where they differ."""
    words = status.word
    if status.scheduler_state and status.scheduler_state not in (
        status.word,
        "COMPLETED",
    ):
        words += f" (slurm: {status.scheduler_state})"
    lines = [
        line for line in status.message.splitlines() if not line.startswith("log: ")
    ]
    last = lines[-1].strip() if lines else ""
    return f"{words}{': ' + last[:160] if last else ''}"


def _clock() -> str:
    return datetime.datetime.now().strftime("[%H:%M:%S]")
