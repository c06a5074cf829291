"""Act on a submitted sweep: cancel it, or resubmit the points that did not succeed.

Both go through the sweep's record, so they work from any shell and long
after the ``sweep`` command returned. Resubmitted points record into their
own folders again: a folder a run had claimed is *resumed* by the recorder
(output appended, a ``resumes`` entry), one that never started is set back
to ``QUEUED`` and claimed as a new run.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from .errors import SweepError
from .folders import read_status, was_claimed
from .launch import make_executor, submit_points
from .localqueue import queue_is_alive, read_queue_state
from .records import write_record
from .slurmstate import cancel_jobs, query_job_states
from .tracking import PointStatus, sweep_status

STOP_WAIT_S = 60


def cancel_sweep(sweep_folder: Path, record: dict[str, Any]) -> list[PointStatus]:
    """Stop every queued or running point; return the points it cancelled."""
    from meticulous.status import write_status

    active = [
        status
        for status in sweep_status(sweep_folder, record)
        if status.category in ("queued", "running")
    ]
    if record["executor"] == "slurm":
        job_ids = [status.job_id for status in active if status.job_id]
        problem = cancel_jobs(job_ids)
        if problem:
            raise SweepError(f"could not cancel the jobs: {problem}")
        _wait_until(lambda: not any(s.live for s in query_job_states(job_ids).values()))
    else:
        queue = read_queue_state(sweep_folder)
        if queue_is_alive(queue):
            try:
                os.kill(int(queue["pid"]), signal.SIGTERM)
            except ProcessLookupError:
                pass
            _wait_until(lambda: not queue_is_alive(read_queue_state(sweep_folder)))
    for status in active:
        folder = Path(record["experiments-directory"]) / status.experiment_id
        word, message = read_status(folder)
        if word == "SUCCESS":
            continue  # it finished before the cancel reached it
        reason = "cancelled by meticulous-slurm cancel"
        if word != "QUEUED" and word != "CANCELLED":
            last = message.strip().splitlines()[-1] if message.strip() else ""
            reason += f" (the run had reached {word}{': ' + last if last else ''})"
        if word != "CANCELLED" or status.category in ("queued", "running"):
            write_status(folder, "CANCELLED", reason)
    return active


def resume_sweep(
    sweep_folder: Path, record: dict[str, Any]
) -> tuple[list[int], list[str]]:
    """Resubmit the failed and cancelled points; returns (indices, job ids)."""
    from meticulous.status import write_status

    if record["executor"] == "local" and queue_is_alive(read_queue_state(sweep_folder)):
        raise SweepError(
            f"sweep {record['name']} is still running locally; wait for it or cancel it first"
        )
    statuses = sweep_status(sweep_folder, record)
    todo = [s.index for s in statuses if s.category in ("failed", "cancelled")]
    if not todo:
        return [], []
    executor = None
    if record["executor"] == "slurm":
        executor = make_executor(
            "slurm", Path(record["submitit-folder"]), record, record["name"]
        )
    for index in todo:
        folder = (
            Path(record["experiments-directory"])
            / record["points"][index]["experiment-id"]
        )
        if not was_claimed(folder):
            write_status(
                folder, "QUEUED", f"sweep {record['name']} point {index} (resubmitted)"
            )
    job_ids = submit_points(
        sweep_folder, record, todo, executor=executor, kind="resume"
    )
    write_record(sweep_folder, record)
    return todo, job_ids


def _wait_until(condition, timeout_s: float = STOP_WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(1)
    return False
