"""Submit a sweep: freeze the code, reserve a folder per point, hand the points
to submitit.

The order matters. Everything that can fail because of the user's input (the
file, the repo, the executor's parameters) is checked before the first
experiment id is reserved; reservations happen before submission, because
each job must know its folder; and if submission fails, the reserved folders
say ``CANCELLED`` with the reason rather than ``QUEUED`` forever.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import SubmissionError, SweepError
from .job import PointRunner, PointSpec
from .points import expand_points, point_argv
from .records import (
    create_sweep_folder,
    default_sweep_name,
    now_iso,
    write_record,
)
from .snapshot import inspect_repo, make_snapshot, refuse_if_dirty, remove_snapshot
from .sweepfile import SweepFile

LAUNCHER_NAME = "meticulous-slurm"
# The local executor's own default limit is 2 minutes; a local sweep runs
# until done unless the file sets timeout_min.
LOCAL_DEFAULT_TIMEOUT_MIN = 60 * 24 * 365
# Parameters of the slurm section that also mean something to submitit's
# LocalExecutor (the rest only concern SLURM and are ignored locally).
LOCAL_PARAMETERS = {
    "time": "timeout_min",
    "signal_delay_s": "signal_delay_s",
    "stderr_to_stdout": "stderr_to_stdout",
    "setup": "setup",
}


@dataclass(frozen=True)
class Plan:
    """What a sweep would do, computed without touching anything."""

    sweep: SweepFile
    executor: str  # "slurm" or "local"
    points: list[dict[str, Any]]
    experiments_directory: Path
    slurm_parameters: dict[str, Any]
    max_parallel: int

    def argv(self, index: int, *, allow_dirty_flag: bool = False) -> list[str]:
        extra = ["--allow-dirty"] if allow_dirty_flag else []
        return [*self.sweep.command, *point_argv(self.points[index]), *extra]


def resolve_executor(choice: str) -> str:
    """``auto`` means SLURM where it can be used, so one file works on a laptop too.

    An explicit ``slurm`` is kept even without sbatch: a dry run can still show
    the script; submitting then fails with a clear message (make_executor).
    """
    if choice == "auto":
        return "slurm" if shutil.which("sbatch") else "local"
    return choice


def plan_sweep(sweep: SweepFile, experiments_directory: Path | None = None) -> Plan:
    return Plan(
        sweep=sweep,
        executor=resolve_executor(sweep.executor),
        points=expand_points(sweep),
        experiments_directory=(
            experiments_directory or sweep.experiments_directory
        ).resolve(),
        slurm_parameters=dict(sweep.slurm),
        max_parallel=sweep.max_parallel or os.cpu_count() or 1,
    )


def sbatch_script(plan: Plan, submitit_folder: Path, name: str) -> str:
    """The sbatch file submitit would write for this sweep's job array."""
    from submitit.slurm import slurm as submitit_slurm

    parameters = _slurm_parameters(plan, name)
    command = " ".join(
        [
            shlex.quote(sys.executable),
            "-u -m submitit.core._submit",
            shlex.quote(str(submitit_folder)),
        ]
    )
    return submitit_slurm._make_sbatch_string(
        command=command,
        folder=submitit_folder,
        map_count=len(plan.points),
        **parameters,
    )


def _slurm_parameters(plan: Plan, name: str) -> dict[str, Any]:
    parameters = dict(plan.slurm_parameters)
    parameters.setdefault("job_name", name)
    return parameters


def submit_sweep(plan: Plan, name: str | None = None) -> tuple[Path, dict[str, Any]]:
    """Submit every point; return the sweep's folder and record."""
    sweep = plan.sweep
    repo = inspect_repo(sweep.project_directory, exclude=plan.experiments_directory)
    refuse_if_dirty(repo, sweep.allow_dirty)
    try:
        plan.experiments_directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SweepError(
            f"cannot create {plan.experiments_directory}: {error}"
        ) from None
    explicit = name or sweep.name
    name, folder = create_sweep_folder(
        plan.experiments_directory,
        explicit or default_sweep_name(sweep.path),
        explicit=bool(explicit),
    )
    submitit_folder = folder / "submitit"
    try:
        executor = make_executor(plan.executor, submitit_folder, plan, name)
        code_directory = make_snapshot(
            repo, folder / "code", allow_dirty=sweep.allow_dirty
        )
    except Exception:
        remove_snapshot(folder)
        raise
    record: dict[str, Any] = {
        "record-version": 1,
        "launcher": LAUNCHER_NAME,
        "name": name,
        "created": now_iso(),
        "sweep-file": str(sweep.path),
        "sweep-file-text": sweep.text,
        "executor": plan.executor,
        "experiments-directory": str(plan.experiments_directory),
        "project-directory": str(sweep.project_directory),
        "code-directory": str(code_directory),
        "githead-sha": repo.sha,
        "dirty": repo.dirty,
        "command": list(sweep.command),
        "slurm-parameters": _slurm_parameters(plan, name),
        "max-requeues": sweep.max_requeues,
        "max-parallel": plan.max_parallel,
        "submitit-folder": str(submitit_folder),
        "points": [],
        "submissions": [],
    }
    reserve_points(plan, record, folder, repo_dirty=repo.dirty)
    submit_points(
        folder, record, list(range(len(plan.points))), executor=executor, kind="sweep"
    )
    return folder, record


def reserve_points(
    plan: Plan, record: dict[str, Any], folder: Path, *, repo_dirty: bool
) -> None:
    """One reserved experiment folder per point (SPEC §5), in point order.

    One batch call: the recorder takes the ids lock once and flushes the
    folders to disk once, instead of once per point. It reserves all points
    or none, so a failure leaves nothing to cancel.
    """
    from meticulous import reserve_experiments

    try:
        experiment_ids = reserve_experiments(
            str(plan.experiments_directory),
            plan.points,
            launcher=[
                _reservation_launcher(record, index, folder)
                for index in range(len(plan.points))
            ],
            githead_sha=record["githead-sha"],
            note=[
                f"sweep {record['name']} point {index}"
                for index in range(len(plan.points))
            ],
        )
    except Exception as error:
        write_record(folder, record)
        raise SubmissionError(
            f"reserving experiments for the sweep's points failed: {error}"
        ) from error
    allow_dirty_flag = repo_dirty and plan.sweep.allow_dirty
    for index, (point, experiment_id) in enumerate(zip(plan.points, experiment_ids)):
        record["points"].append(
            {
                "index": index,
                "params": point,
                "argv": plan.argv(index, allow_dirty_flag=allow_dirty_flag),
                "experiment-id": experiment_id,
                "job-ids": [],
            }
        )
    write_record(folder, record)


def _reservation_launcher(
    record: dict[str, Any], index: int, folder: Path
) -> dict[str, Any]:
    return {
        "name": LAUNCHER_NAME,
        "sweep": record["name"],
        "point": index,
        "sweep-record": str(folder / "sweep.json"),
    }


def make_executor(kind: str, submitit_folder: Path, plan_or_record: Any, name: str):
    """A submitit executor for the sweep; SLURM parameters are checked here,
    before anything is reserved."""
    if kind != "slurm":
        return None  # local points are started by the local queue process
    if shutil.which("sbatch") is None or shutil.which("srun") is None:
        raise SweepError(
            "executor is 'slurm' but sbatch/srun are not on PATH (use auto or local)"
        )
    import submitit

    if isinstance(plan_or_record, Plan):
        parameters = _slurm_parameters(plan_or_record, name)
        max_requeues = plan_or_record.sweep.max_requeues
    else:
        parameters = dict(plan_or_record["slurm-parameters"])
        max_requeues = plan_or_record["max-requeues"]
    try:
        executor = submitit.SlurmExecutor(
            folder=submitit_folder, max_num_timeout=max_requeues
        )
        executor.update_parameters(**parameters)
    except (ValueError, RuntimeError) as error:
        raise SweepError(f"invalid slurm parameters: {error}") from None
    return executor


def submit_points(
    folder: Path,
    record: dict[str, Any],
    indices: list[int],
    *,
    executor: Any = None,
    kind: str,
) -> list[str]:
    """Submit the given points of a recorded sweep; returns their job ids.

    On failure every point of this submission that had not started is marked
    ``CANCELLED`` with the reason, the record says so, and SubmissionError is
    raised.
    """
    specs = [point_spec(record, index) for index in indices]
    submission = {"time": now_iso(), "kind": kind, "points": indices}
    try:
        if record["executor"] == "slurm":
            if executor is None:
                executor = make_executor(
                    "slurm", Path(record["submitit-folder"]), record, record["name"]
                )
            jobs = executor.map_array(PointRunner(), specs)
            job_ids = [job.job_id for job in jobs]
            # submitit submits a single point as a plain job, more as an array
            submission["slurm-job-id"] = job_ids[0].split("_")[0]
        else:
            from .localqueue import start_local_queue

            submission["local-queue-pid"] = start_local_queue(folder, indices)
            job_ids = []
    except SweepError:
        _cancel_reserved(record, indices, "submission failed")
        raise
    except Exception as error:
        reason = f"submission failed: {error}"
        _cancel_reserved(record, indices, reason)
        submission["error"] = str(error)
        record["submissions"].append(submission)
        write_record(folder, record)
        raise SubmissionError(reason) from error
    for index, job_id in zip(indices, job_ids):
        record["points"][index]["job-ids"].append(job_id)
    record["submissions"].append(submission)
    write_record(folder, record)
    return job_ids


def point_spec(record: dict[str, Any], index: int) -> PointSpec:
    point = record["points"][index]
    folder = (
        Path(record["experiments-directory"])
        / ".meticulous"
        / "sweeps"
        / record["name"]
    )
    return PointSpec(
        sweep=record["name"],
        index=index,
        experiment_id=point["experiment-id"],
        experiments_directory=record["experiments-directory"],
        code_directory=record["code-directory"],
        argv=tuple(point["argv"]),
        launcher=_reservation_launcher(record, index, folder),
    )


def _cancel_reserved(record: dict[str, Any], indices: list[int], reason: str) -> None:
    from meticulous.status import write_status

    from .folders import read_status

    for index in indices:
        folder = (
            Path(record["experiments-directory"])
            / record["points"][index]["experiment-id"]
        )
        if read_status(folder)[0] == "QUEUED":
            write_status(folder, "CANCELLED", reason)
