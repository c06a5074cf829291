"""Act on a submitted sweep: cancel it, or resubmit the points that did not succeed.

Both go through the sweep's record, so they work from any shell and long
after the ``sweep`` command returned. Resubmitted points record into their
own folders again: a folder a run had claimed is *resumed* by the recorder
(a new attempt, SPEC §16: output appended, a ``resumes`` entry), one that
never started is set back to ``QUEUED`` and claimed as a new run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from meticulous.status import CANCELLED, QUEUED, SUCCESS

from .backend import backend_named
from .folders import read_status, was_claimed
from .launch import submit_points
from .record import SweepRecord, write_record
from .snapshot import inspect_repo, make_snapshot, refuse_if_dirty
from .tracking import PointStatus, sweep_status


def cancel_sweep(sweep_folder: Path, record: SweepRecord) -> list[PointStatus]:
    """Stop every queued or running point; return the points it cancelled."""
    from meticulous.status import write_status

    active = [
        status
        for status in sweep_status(sweep_folder, record)
        if status.category in ("queued", "running")
    ]
    backend_named(record.executor).stop(
        record, sweep_folder, [status.index for status in active]
    )
    for status in active:
        folder = record.folder_of(status.index)
        word, message = read_status(folder)
        if word == SUCCESS:
            continue  # it finished before the cancel reached it
        reason = "cancelled by meticulous-slurm cancel"
        if word not in (QUEUED, CANCELLED):
            last = message.strip().splitlines()[-1] if message.strip() else ""
            reason += f" (the run had reached {word}{': ' + last if last else ''})"
        write_status(folder, CANCELLED, reason)
    return active


@dataclass(frozen=True)
class Resubmission:
    indices: list[int]
    job_ids: list[str]
    head_sha: str  # the repository's HEAD now
    code_sha: str  # the commit the points run


def resume_sweep(
    sweep_folder: Path, record: SweepRecord, *, code: str = "frozen"
) -> Resubmission:
    """Resubmit the failed and cancelled points.

    ``code="frozen"`` reruns the sweep's frozen commit; ``"head"`` checks out
    the project's current HEAD for them (recorded per point and in their
    launcher metadata as ``code-sha``, SPEC §16).
    """
    from meticulous.status import write_status

    backend = backend_named(record.executor)
    backend.refuse_resume(record, sweep_folder)
    statuses = sweep_status(sweep_folder, record)
    todo = [s.index for s in statuses if s.category in ("failed", "cancelled")]
    head_sha = _head_sha(record)
    if not todo:
        return Resubmission([], [], head_sha or record.githead_sha, record.githead_sha)
    code_sha = record.githead_sha
    code_directory = None
    if code == "head":
        repo = inspect_repo(
            Path(record.project_directory), exclude=Path(record.experiments_directory)
        )
        refuse_if_dirty(repo, allow_dirty=False)
        code_sha = repo.sha
        if code_sha != record.githead_sha:
            code_directory = str(
                make_snapshot(
                    repo, sweep_folder / f"code-{code_sha[:12]}", allow_dirty=False
                )
                if not (sweep_folder / f"code-{code_sha[:12]}").exists()
                else sweep_folder / f"code-{code_sha[:12]}" / repo.project_relative
            )
    restore: dict[int, str] = {}
    if code_directory is not None:
        _move_to_commit(record, todo, code_directory, code_sha)
    for index in todo:
        folder = record.folder_of(index)
        if not was_claimed(folder):
            restore[index] = _status_text(folder)
            write_status(
                folder, QUEUED, f"sweep {record.name} point {index} (resubmitted)"
            )
    job_ids = submit_points(sweep_folder, record, todo, kind="resume", restore=restore)
    write_record(sweep_folder, record)
    return Resubmission(todo, job_ids, head_sha or code_sha, code_sha)


def _head_sha(record: SweepRecord) -> str | None:
    import subprocess

    try:
        probe = subprocess.run(
            [
                "git",
                "-C",
                record.project_directory,
                "rev-parse",
                "--verify",
                "HEAD^{commit}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    return probe.stdout.strip() if probe.returncode == 0 else None


def _status_text(folder: Path) -> str:
    try:
        return (folder / "STATUS").read_text(encoding="utf-8")
    except OSError:
        return "QUEUED\n"


def _move_to_commit(
    record: SweepRecord, todo: list[int], code_directory: str, code_sha: str
) -> None:
    """Point the given points at another commit.

    A reservation never claimed just names the new commit (SPEC §5). A folder
    that ran cannot change commit (a resume keeps it, SPEC §6), so that point
    gets a new reserved folder; the record keeps the old id.
    """
    from meticulous import reserve_experiments

    from .points import recorded_args

    for index in todo:
        point = record.points[index]
        point.code_directory = code_directory
        point.githead_sha = code_sha
    claimed = [i for i in todo if was_claimed(record.folder_of(i))]
    for index in todo:
        if index not in claimed:
            _update_metadata(
                record.folder_of(index),
                {"githead-sha": code_sha, "launcher": record.launcher_info(index)},
            )
    if not claimed:
        return
    new_ids = reserve_experiments(
        record.experiments_directory,
        [recorded_args(record.points[i].params) for i in claimed],
        launcher=[
            {**record.launcher_info(i), "reruns": record.points[i].experiment_id}
            for i in claimed
        ],
        githead_sha=code_sha,
        note=[
            f"sweep {record.name} point {i} (rerun on {code_sha[:12]})" for i in claimed
        ],
    )
    for index, experiment_id in zip(claimed, new_ids):
        point = record.points[index]
        point.previous_experiment_ids.append(point.experiment_id)
        point.experiment_id = experiment_id


def _update_metadata(folder: Path, changes: dict) -> None:
    import json

    from meticulous.atomic import write_json_atomic

    metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    metadata.update(changes)
    write_json_atomic(folder / "metadata.json", metadata)
