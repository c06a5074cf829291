"""Helpers for the meticulous-slurm tests (a unique module name, so it cannot
clash with another suite's helpers on sys.path)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from helpers.folders import read_json
from helpers.folders import status_of as read_status
from helpers.git import git
from helpers.processes import wait_for as poll

# What the suite's tests import, the shared helpers included.
__all__ = [
    "TRAIN_PY",
    "UNFINISHED_SACCT_STATES",
    "Project",
    "final_sacct_states",
    "git",
    "read_json",
    "read_status",
    "release_requeued",
    "run_cli",
    "sacct_states",
    "squeue_state",
    "sweep_record",
    "wait_for",
    "wait_for_status",
]

TRAIN_PY = textwrap.dedent(
    """\
    import argparse
    import os
    import time

    from meticulous import Experiment

    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--layers", type=int, nargs="*", default=[])
    parser.add_argument("--fast", action="store_true")
    parser.add_argument("--markers", default="")
    Experiment.add_argument_group(parser)
    experiment = Experiment.from_parser(parser)
    args = parser.parse_args()
    print("train.py version 1", "lr", args.lr, flush=True)
    marker = os.path.join(args.markers, f"lr-{args.lr}") if args.markers else ""
    # A point fails while its fail marker exists...
    if marker and os.path.exists(marker + ".fail"):
        raise RuntimeError(f"failing on purpose for lr {args.lr}")
    # ...and waits while its hold marker exists (so a test can act on a
    # running job), at most two minutes.
    deadline = time.time() + 120
    while marker and os.path.exists(marker + ".hold") and time.time() < deadline:
        time.sleep(0.2)
    experiment.summary({"lr": args.lr})
    print("done", flush=True)
    """
)


class Project:
    """A git repo with train.py, a sweep file and a markers folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.markers = root.parent / f"{root.name}-markers"
        self.markers.mkdir()
        root.mkdir()
        git(root, "init", "-q")
        (root / ".gitignore").write_text("experiments/\n")
        (root / "train.py").write_text(TRAIN_PY)
        self.commit("train.py")

    @property
    def experiments(self) -> Path:
        return self.root / "experiments"

    def commit(self, message: str = "change") -> str:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "-m", message)
        return git(self.root, "rev-parse", "HEAD").strip()

    def write_sweep(
        self, body: str, name: str = "config.yaml", commit: bool = True
    ) -> Path:
        """A sweep file whose command runs train.py with this interpreter."""
        text = f"command: {sys.executable} train.py\n" + textwrap.dedent(body)
        path = self.root / name
        path.write_text(text)
        if commit:
            self.commit(f"sweep {name}")
        return path

    def experiment_folders(self) -> list[Path]:
        if not self.experiments.is_dir():
            return []
        return sorted(
            (p for p in self.experiments.iterdir() if p.is_dir() and p.name.isdigit()),
            key=lambda p: int(p.name),
        )

    def fail(self, lr: float) -> Path:
        path = self.markers / f"lr-{lr}.fail"
        path.write_text("")
        return path

    def hold(self, lr: float) -> Path:
        path = self.markers / f"lr-{lr}.hold"
        path.write_text("")
        return path


def run_cli(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    """``meticulous-slurm ARGS`` as its own process."""
    return subprocess.run(
        [sys.executable, "-m", "meticulous_slurm.cli", *args],
        cwd=cwd,
        capture_output=True,
        check=False,
        text=True,
        timeout=timeout,
    )


def sweep_record(project: Project) -> dict:
    records = list(
        (project.experiments / ".meticulous" / "sweeps").glob("*/sweep.json")
    )
    assert len(records) == 1, records
    return read_json(records[0])


def wait_for(condition, timeout: float = 120, what: str = "condition"):
    """Polled every 0.5 s: squeue and sacct are not free, and jobs take seconds."""
    return poll(condition, timeout, what, step=0.5)


def wait_for_status(folder: Path, words: tuple[str, ...], timeout: float = 120) -> str:
    def current():
        try:
            word = read_status(folder)[0]
        except FileNotFoundError:
            return None
        return word if word in words else None

    return wait_for(current, timeout, f"{folder} to reach {words}")


def wait_until_train_py_runs(folder: Path, timeout: float = 120) -> None:
    """train.py past ``Experiment.from_parser``, printing: its output is in
    the folder, and the tests that stop it see what the user's code did."""
    stdout = folder / "stdout"
    wait_for(
        lambda: stdout.exists() and "train.py version 1" in stdout.read_text(),
        timeout,
        f"train.py to run in {folder}",
    )


def squeue_state(job_id: str) -> str | None:
    completed = subprocess.run(
        ["squeue", "-h", "-j", job_id, "-o", "%T"],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = completed.stdout.split()
    return lines[0] if completed.returncode == 0 and lines else None


def sacct_states(array_job_id: str) -> dict[str, str]:
    completed = subprocess.run(
        ["sacct", "-n", "-P", "-X", "-j", array_job_id, "-o", "JobID,State"],
        capture_output=True,
        text=True,
        check=True,
    )
    states = {}
    for line in completed.stdout.splitlines():
        job_id, _, state = line.partition("|")
        states[job_id] = state.split()[0] if state else ""
    return states


UNFINISHED_SACCT_STATES = ("PENDING", "RUNNING", "REQUEUED", "COMPLETING", "SUSPENDED")


def final_sacct_states(array_job_id: str, tasks: int) -> dict[str, str]:
    """The tasks' states once sacct knows all of them as finished: it lags
    behind for array tasks (a task can still say RUNNING a few seconds after
    it ended, .ci/slurm/README.md)."""

    def finished():
        states = sacct_states(array_job_id)
        done = len(states) == tasks and all(
            state not in UNFINISHED_SACCT_STATES for state in states.values()
        )
        return states if done else None

    return wait_for(finished, what=f"sacct to know the {tasks} tasks as finished")


def release_requeued(job_id: str, *settings: str) -> None:
    """Start a requeued job now rather than after its BeginTime (about 120 s
    ahead), with any other ``scontrol update`` SETTINGS (``ExcNodeList=...``)."""
    wait_for(lambda: squeue_state(job_id) == "PENDING", 60, "the job to be requeued")
    # slurmd refuses to start a job again on a node in the same second as it
    # revoked the job's credential ("Job credential revoked"): the job would
    # fail at once.
    time.sleep(1.1)
    subprocess.run(
        ["scontrol", "update", f"jobid={job_id}", *settings, "StartTime=now"],
        check=True,
    )
