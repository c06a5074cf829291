"""Submit a sweep: freeze the code, reserve a folder per point, hand the points
to a backend.

The order matters. Everything that can fail because of the user's input (the
file, the repo, the cluster's partitions, accounts and limits) is checked
before the first experiment id is reserved; reservations happen before
submission, because each job must know its folder; and if the scheduler
refuses the submission, the folders reserved for it are released (SPEC §5),
so a refused sweep leaves no experiment behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meticulous.ids import expected_ids
from meticulous.status import QUEUED

from .backend import Backend, resolve_backend
from .background import Background
from .errors import InterruptedBeforeSubmission, SubmissionError, SweepError
from .folders import read_status, reserved_for, was_claimed
from .model import Sweep
from .points import expand_points, point_argv, recorded_args
from .record import (
    PointRecord,
    Submission,
    SweepRecord,
    check_sweep_name,
    create_sweep_folder,
    default_sweep_name,
    now_iso,
    sweeps_directory,
    write_record,
)
from .reserving import Reservation, start_reservation
from .snapshot import SweepSource, inspect_repo, make_snapshot, refuse_if_dirty


@dataclass(frozen=True)
class Plan:
    """What a sweep would do, computed and checked without reserving anything."""

    sweep: Sweep
    backend: Backend
    points: list[dict[str, Any]]
    repo: SweepSource
    name: str
    explicit_name: bool
    slurm_parameters: dict[str, Any]
    max_parallel: int
    warnings: tuple[str, ...] = ()

    @property
    def experiments_directory(self) -> Path:
        return self.sweep.experiments_directory

    @property
    def folder(self) -> Path:
        return sweeps_directory(self.experiments_directory) / self.name

    def argv(self, index: int) -> list[str]:
        extra = ["--allow-dirty"] if self.repo.dirty and self.sweep.allow_dirty else []
        return [*self.sweep.command, *point_argv(self.points[index]), *extra]

    @property
    def indices(self) -> list[int]:
        return list(range(len(self.points)))

    def point_records(self, experiment_ids: list[str]) -> list[PointRecord]:
        return [
            PointRecord(index, point, self.argv(index), experiment_id)
            for index, (point, experiment_id) in enumerate(
                zip(self.points, experiment_ids)
            )
        ]

    def describe_backend(self) -> str:
        return self.backend.describe(
            self.slurm_parameters,
            len(self.points),
            self.max_parallel,
            self.folder / "submitit",
        )


def plan_sweep(sweep: Sweep, name: str | None = None, *, dry_run: bool = False) -> Plan:
    """Check everything a submission needs, for a dry run and a real one alike
    (a dry run may show an sbatch script on a machine without sbatch)."""
    backend = resolve_backend(sweep.executor)
    if not dry_run:
        backend.require_tools()
    points = expand_points(sweep)
    explicit = name or sweep.name
    name = check_sweep_name(explicit or default_sweep_name(sweep.stem))
    slurm = dict(sweep.slurm)
    slurm.setdefault("job_name", short_job_name(sweep.stem))
    slurm.setdefault("comment", f"meticulous-slurm sweep {name}")
    # The cluster's answers and git's, at the same time.
    asking = Background(backend.problems, slurm, len(points))
    repo = inspect_repo(
        sweep.project_directory,
        exclude=sweep.experiments_directory,
        untracked=sweep.allow_dirty,
    )
    refuse_if_dirty(repo, sweep.allow_dirty)
    problems = asking.wait()
    if problems:
        raise SweepError(
            "the cluster would refuse this sweep:\n  " + "\n  ".join(problems)
        )
    return Plan(
        sweep=sweep,
        backend=backend,
        points=points,
        repo=repo,
        name=name,
        explicit_name=bool(explicit),
        slurm_parameters=slurm,
        max_parallel=sweep.max_parallel or os.cpu_count() or 1,
        warnings=tuple(backend.warnings(slurm)),
    )


def short_job_name(stem: str) -> str:
    """squeue shows 8 characters of a job name by default: the file's first
    two letters and the submission time fit, ``gr211530``; the full sweep
    name is the job's comment (``squeue -o %k``)."""
    import datetime

    letters = "".join(c for c in stem if c.isalnum())[:2] or "mt"
    return f"{letters}{datetime.datetime.now():%H%M%S}"


def submit_sweep(plan: Plan) -> tuple[Path, SweepRecord]:
    """Reserve and submit every point; return the sweep's folder and record.

    The slow parts overlap: a child process allocates the ids and writes
    the folders (reserving.py) while this one freezes the code (git, in a
    thread), imports submitit, pickles the tasks and submits them. The code
    is frozen before ``sbatch`` runs (the backend's ``ready``); the last
    folders may be written while it runs, since each job waits for its own
    (job.py, SPEC §5), and this function returns only once all are whole.
    Whatever fails is undone: a job whose folder could not be written is
    cancelled.

    The tasks are pickled with the ids the allocation is expected to give
    (``expected_ids``: the ``last-id`` hint, read without the lock) rather
    than after waiting for the real ones. ``ready`` compares the two; when
    another allocation came first, nothing has been submitted and the tasks
    are pickled again with the real ids.
    """
    sweep = plan.sweep
    try:
        plan.experiments_directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SweepError(
            f"cannot create {plan.experiments_directory}: {error}"
        ) from None
    name, folder = create_sweep_folder(
        plan.experiments_directory, plan.name, explicit=plan.explicit_name
    )
    slurm = dict(plan.slurm_parameters)
    if name != plan.name:
        slurm["comment"] = f"meticulous-slurm sweep {name}"
    record = SweepRecord(
        name=name,
        created=now_iso(),
        sweep_file=str(sweep.path) if sweep.path else None,
        sweep_file_text=sweep.text,
        executor=plan.backend.name,
        experiments_directory=str(plan.experiments_directory),
        project_directory=str(sweep.project_directory),
        code_directory=str(folder / "code" / plan.repo.project_relative),
        githead_sha=plan.repo.sha,
        dirty=plan.repo.dirty,
        command=list(sweep.command),
        slurm_parameters=slurm,
        max_requeues=sweep.max_requeues,
        max_parallel=plan.max_parallel,
        submitit_folder=str(folder / "submitit"),
    )
    try:
        # First, while this process has no other thread (see reserving.py).
        expected = expected_ids(plan.experiments_directory, len(plan.points))
        reservation = reserve_points(plan, record)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    snapshot = Background(
        make_snapshot, plan.repo, folder / "code", allow_dirty=sweep.allow_dirty
    )
    try:
        plan.backend.load()  # while the ids are allocated
    except BaseException as error:  # a Ctrl-C, say: nothing was submitted
        _abandon(folder, reservation, snapshot)
        if isinstance(error, KeyboardInterrupt):
            raise _interrupted("sweep") from None
        raise
    record.points = plan.point_records(expected)  # see the docstring

    def ready() -> None:
        nonlocal expected
        allocated = reservation.ids()  # first: a release must see the real ids
        if allocated != expected:
            record.points = plan.point_records(allocated)
            expected = allocated  # the next call passes
            raise ExpectedIdsTaken
        snapshot.wait()

    def submit() -> None:
        submit_points(
            folder,
            record,
            plan.indices,
            kind="sweep",
            ready=ready,
            finish=reservation.wait,
        )

    try:
        try:
            submit()
        except ExpectedIdsTaken:
            submit()  # another allocation came first: pickled again, with the real ids
    except InterruptedBeforeSubmission:
        _abandon(folder, reservation, snapshot)
        raise
    except (SubmissionError, SweepError):
        # Nothing of this sweep ever ran: no record either, only the message.
        snapshot.settle()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder, record


class ExpectedIdsTaken(Exception):
    """The allocation gave other ids than the tasks were pickled with (its
    ids are in the record now); nothing was submitted."""


def _abandon(folder: Path, reservation: Reservation, snapshot: Background) -> None:
    """Undo a sweep stopped before anything was submitted."""
    reservation.cancel()
    snapshot.settle()
    shutil.rmtree(folder, ignore_errors=True)


def _interrupted(kind: str) -> InterruptedBeforeSubmission:
    undone = (
        "the reserved folders were removed"
        if kind == "sweep"
        else "the points' folders are as they were"
    )
    return InterruptedBeforeSubmission(
        f"interrupted before anything was submitted; {undone}"
    )


def reserve_points(plan: Plan, record: SweepRecord) -> Reservation:
    """One reserved experiment folder per point (SPEC §5), in point order,
    reserved while the submission is prepared (reserving.py).

    One batch: the recorder takes the ids lock once instead of once per
    point, and reserves all points or none, so a failure leaves nothing to
    cancel. No sync: submitit does not fsync the pickles the jobs start from,
    so a crash before the kernel's write-back fails the jobs whatever state
    their folders are in, and ``syncfs`` waits for every writer of the file
    system (the slowest step of a 1,000-point sweep on a busy machine).
    """
    count = len(plan.points)
    return start_reservation(
        plan.experiments_directory,
        [recorded_args(point) for point in plan.points],
        launcher=[record.launcher_info(index) for index in range(count)],
        githead_sha=record.githead_sha,
        note=[f"sweep {record.name} point {index}" for index in range(count)],
    )


def submit_points(
    folder: Path,
    record: SweepRecord,
    indices: list[int],
    *,
    kind: str,
    restore: dict[int, str] | None = None,
    ready: Callable[[], None] | None = None,
    finish: Callable[[], None] | None = None,
) -> list[str]:
    """Submit the given points of a recorded sweep; returns their job ids.

    When the backend refuses, every folder of this submission that no job
    claimed is released (removed; ids are never reused, SPEC §4) or, for a
    resubmission, given back the ``STATUS`` text in ``restore``; the record
    notes the refusal, and SubmissionError is raised. ``ready`` finishes
    the points' folders and code (see Backend.submit); what it raises is
    raised, after the same release. A Ctrl-C before the submission could
    have started releases them too (InterruptedBeforeSubmission).
    ``finish`` completes the folders once the jobs are submitted; if it
    raises, the jobs are cancelled and the folders released.
    """
    from .backend import backend_named

    backend = backend_named(record.executor)
    submission = Submission(time=now_iso(), kind=kind, points=list(indices))
    started = False  # once true, sbatch (or the local queue) may have run

    def prepared() -> None:
        nonlocal started
        if ready is not None:
            ready()
        # A local queue reads the points from it; written again, durably,
        # once the submission is made or refused.
        write_record(folder, record, sync=False)
        started = True

    try:
        submitted = backend.submit(record, folder, indices, prepared)
    except BaseException as error:
        # The folders whole, or gone, before anything else.
        for settle in (ready, finish):
            if settle is not None:
                with contextlib.suppress(Exception):
                    settle()
        if isinstance(error, ExpectedIdsTaken):
            raise  # nothing ran: the caller submits again
        if isinstance(error, KeyboardInterrupt) and not started:
            release_points(record, indices, restore or {})
            raise _interrupted(kind) from None
        if not isinstance(error, Exception):
            raise  # a Ctrl-C once sbatch may have run: nothing is released
        reason = f"{backend.where} refused the submission: {_first_line(error)}"
        released = release_points(record, indices, restore or {})
        submission.error = str(error)
        record.submissions.append(submission)
        write_record(folder, record)
        if isinstance(error, (SweepError, SubmissionError)):
            raise
        note = f" ({released} reserved folders released)" if released else ""
        raise SubmissionError(reason + note) from error
    submission.slurm_job_id = submitted.slurm_job_id
    submission.local_queue_pid = submitted.local_queue_pid
    for index, job_id in zip(indices, submitted.job_ids):
        record.points[index].job_ids.append(job_id)
    record.submissions.append(submission)
    if finish is not None:
        try:
            finish()
        except Exception as error:
            # Jobs without a folder must not run; theirs are gone already.
            with contextlib.suppress(Exception):
                backend.stop(record, folder, indices)
            release_points(record, indices, restore or {})
            submission.error = str(error)
            write_record(folder, record)
            raise SubmissionError(
                f"{error}; the {len(indices)} submitted jobs were cancelled"
            ) from error
        except KeyboardInterrupt:  # the jobs go on (the child ignores it): track them
            write_record(folder, record)
            raise
    write_record(folder, record)
    return submitted.job_ids


def release_points(
    record: SweepRecord, indices: list[int], restore: dict[int, str]
) -> int:
    """Undo the reservations of a refused submission; returns how many were removed."""
    from meticulous.atomic import write_text_atomic

    released = 0
    sweep_record = record.record_path()
    for index in indices:
        folder = record.folder_of(index)
        if read_status(folder)[0] != QUEUED or was_claimed(folder):
            continue  # a job got it after all: it is a run now, not a reservation
        if not reserved_for(folder, sweep_record, index):
            continue  # another launcher's, where the record's id was only expected
        if index in restore:
            write_text_atomic(folder / "STATUS", restore[index])
            continue
        shutil.rmtree(folder, ignore_errors=True)
        released += 1
    return released


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    lines = [
        line for line in text.splitlines() if "error" in line.lower()
    ] or text.splitlines()
    return (lines[-1] if lines else type(error).__name__)[:500]
