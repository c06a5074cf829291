"""The local backend: a sweep's points on this machine, through the local queue."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backend import STOP_WAIT_S, Backend, Submitted
from .errors import SweepError
from .localqueue import queue_is_alive, read_queue_state, start_local_queue
from .slurmstate import JobState

if TYPE_CHECKING:
    from .record import SweepRecord


class LocalBackend(Backend):
    name = "local"
    where = "this machine"
    poll_s = 1.0

    def problems(self, slurm: dict[str, Any], count: int) -> list[str]:
        return []

    def describe(
        self,
        slurm: dict[str, Any],
        count: int,
        max_parallel: int,
        submitit_folder: Path,
    ) -> str:
        return (
            f"local executor: at most {max_parallel} points at a time through"
            " submitit's LocalExecutor (no sbatch script)\n"
        )

    def submit(
        self,
        record: SweepRecord,
        sweep_folder: Path,
        indices: list[int],
        ready: Callable[[], None] | None = None,
    ) -> Submitted:
        if ready is not None:
            ready()
        return Submitted(local_queue_pid=start_local_queue(sweep_folder, indices))

    def states(self, record: SweepRecord, sweep_folder: Path) -> dict[int, JobState]:
        """Points the queue holds are PENDING or RUNNING; once the queue is
        gone, a point it never started was CANCELLED."""
        queue = read_queue_state(sweep_folder)
        if queue is None:
            return {}
        alive = queue_is_alive(queue)
        started = {int(index) for index in queue.get("job-ids", {})}
        states: dict[int, JobState] = {}
        for point in record.points:
            if alive and point.index in queue.get("pending", []):
                states[point.index] = JobState("PENDING")
            elif alive and str(point.index) in queue.get("running", {}):
                states[point.index] = JobState("RUNNING")
            elif (
                not alive
                and point.index not in started
                and _was_queued(queue, point.index)
            ):
                states[point.index] = JobState("CANCELLED")
        return states

    def stop(self, record: SweepRecord, sweep_folder: Path, indices: list[int]) -> None:
        queue = read_queue_state(sweep_folder)
        if queue is None or not queue_is_alive(queue):
            return
        try:
            os.kill(int(queue["pid"]), signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + STOP_WAIT_S
        while time.monotonic() < deadline and queue_is_alive(
            read_queue_state(sweep_folder)
        ):
            time.sleep(0.2)

    def refuse_resume(self, record: SweepRecord, sweep_folder: Path) -> None:
        if queue_is_alive(read_queue_state(sweep_folder)):
            raise SweepError(
                f"sweep {record.name} is still running locally; wait for it or cancel it first"
            )

    def settle(self, record: SweepRecord, sweep_folder: Path) -> None:
        """The queue process notices the last point's end and exits a poll later."""
        deadline = time.monotonic() + STOP_WAIT_S
        while time.monotonic() < deadline and queue_is_alive(
            read_queue_state(sweep_folder)
        ):
            time.sleep(0.05)

    def summary(self, record: SweepRecord) -> str:
        return (
            f"submitted to this machine ({record.max_parallel} at a time,"
            " started as slots free up)"
        )


def _was_queued(queue: dict[str, Any], index: int) -> bool:
    return index in queue.get("queued", [])
