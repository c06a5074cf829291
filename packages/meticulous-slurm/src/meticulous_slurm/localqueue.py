"""Run a sweep's points on this machine, at most ``max_parallel`` at a time.

submitit's LocalExecutor starts every submitted job at once (``map_array``
launches one process per point, with no cap), so the cap is kept here: a
small background process submits one point at a time through the
LocalExecutor and starts the next when a slot frees. Running it as its own
detached process lets ``meticulous-slurm sweep`` return at once, as it does on
SLURM, and survive the terminal that started it.

The queue's progress is in ``local-queue.json`` beside the sweep record (its
pid, the points still pending, the running ones and their submitit job ids);
only this process writes it. SIGTERM (``meticulous-slurm cancel``) stops it:
running points are interrupted, points not started are marked CANCELLED.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from meticulous.liveness import pid_is_alive
from meticulous.status import CANCELLED, QUEUED

from .folders import read_status
from .record import SweepRecord, read_record
from .slurmparams import local_parameters

STATE_FILE = "local-queue.json"
LOG_FILE = "local-queue.log"
POLL_S = 0.2
STOP_WAIT_S = 30


def start_local_queue(sweep_folder: Path, indices: list[int]) -> int:
    """Start the queue process for ``indices`` of the sweep; returns its pid."""
    with open(sweep_folder / LOG_FILE, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "meticulous_slurm.localqueue", str(sweep_folder)]
            + [str(index) for index in indices],
            cwd=sweep_folder,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    # The queue writes its state file first thing; wait for it so a status
    # right after `sweep` already sees the queue.
    state_path = sweep_folder / STATE_FILE
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        state = read_queue_state(sweep_folder)
        if state and state.get("pid") == process.pid:
            break
        time.sleep(0.05)
    if process.poll() not in (None, 0) and not state_path.exists():
        raise RuntimeError(
            f"the local queue failed to start; see {sweep_folder / LOG_FILE}"
        )
    return process.pid


def read_queue_state(sweep_folder: Path) -> dict[str, Any] | None:
    try:
        state = json.loads((sweep_folder / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def queue_is_alive(state: dict[str, Any] | None) -> bool:
    """True while the queue process of ``state`` still runs (on this host)."""
    if not state or state.get("finished"):
        return False
    if state.get("host") != socket.gethostname():
        return True  # cannot tell from here; trust the file
    return pid_is_alive(int(state.get("pid", 0)))


class _LocalQueue:
    def __init__(self, sweep_folder: Path, indices: list[int]) -> None:
        import submitit

        self.folder = sweep_folder
        self.record: SweepRecord = read_record(sweep_folder)
        self.queued = list(indices)
        self.pending = list(indices)
        self.running: dict[int, Any] = {}
        self.jobs: dict[str, str] = {}
        self.stopping = False
        self.executor = submitit.LocalExecutor(
            folder=self.record.submitit_folder,
            max_num_timeout=self.record.max_requeues,
        )
        self.executor.update_parameters(
            **local_parameters(self.record.slurm_parameters)
        )
        self.cap = max(1, int(self.record.max_parallel or 1))

    def save(self, finished: bool = False) -> None:
        from meticulous.atomic import write_json_atomic

        write_json_atomic(
            self.folder / STATE_FILE,
            {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "max-parallel": self.cap,
                "queued": self.queued,
                "pending": self.pending,
                "running": {str(i): job.job_id for i, job in self.running.items()},
                "job-ids": self.jobs,
                "finished": finished,
            },
        )

    def run(self) -> None:
        from .job import PointRunner

        self.save()
        while (self.pending or self.running) and not self.stopping:
            changed = False
            while self.pending and len(self.running) < self.cap and not self.stopping:
                index = self.pending.pop(0)
                job = self.executor.submit(PointRunner(), self.record.point_spec(index))
                self.running[index] = job
                self.jobs[str(index)] = job.job_id
                print(f"point {index}: started local job {job.job_id}", flush=True)
                changed = True
            for index, job in list(self.running.items()):
                if job.done():
                    del self.running[index]
                    print(
                        f"point {index}: job {job.job_id} ended {job.state}", flush=True
                    )
                    changed = True
            if changed:
                self.save()
            time.sleep(POLL_S)
        if self.stopping:
            self.stop()
        self.save(finished=True)

    def stop(self) -> None:
        """Interrupt running points and cancel the ones never started."""
        from meticulous.status import write_status

        for job in self.running.values():
            job.cancel(check=False)
        deadline = time.monotonic() + STOP_WAIT_S
        while time.monotonic() < deadline and any(
            not j.done() for j in self.running.values()
        ):
            time.sleep(POLL_S)
        for index in self.pending:
            folder = self.record.folder_of(index)
            if read_status(folder)[0] == QUEUED:
                write_status(
                    folder, CANCELLED, "the local queue was stopped before it started"
                )
        self.pending = []
        self.running = {}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    queue = _LocalQueue(Path(argv[0]), [int(index) for index in argv[1:]])

    def request_stop(signum: int, frame: Any) -> None:
        queue.stopping = True

    previous = signal.signal(signal.SIGTERM, request_stop)
    try:
        queue.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
