"""Choosing the experiment folder and taking its lock.

Every check reads and never writes, so a refusal (bad directory, mismatched
args or commit, a folder in use) leaves every existing experiment byte for
byte as it was (spec sections 3, 5 and 6). The only writes are creating a
new folder (``mkdir``) and its ``.lock``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .exceptions import (
    ExperimentLockedException,
    InvalidExperimentError,
    MismatchedArgsException,
    MismatchedCommitException,
)
from .ids import allocate_id, is_integer_id, note_explicit_id
from .locks import LockFile
from .status import QUEUED, read_status

NEW = "new"  # the folder does not exist yet: create it
CLAIM = "claim"  # a launcher's QUEUED reservation: start a new run in it
RESUME = "resume"  # an experiment recorded before: continue it


def resolve_directories(
    project_directory: str | os.PathLike[str] | None,
    experiments_directory: str | os.PathLike[str],
) -> tuple[Path, Path]:
    """Absolute project and experiments directories, checked for use."""
    project = Path(project_directory if project_directory is not None else os.getcwd())
    project = project.absolute()
    if not project.is_dir():
        raise InvalidExperimentError(f"project directory {project} is not a directory")
    experiments = Path(experiments_directory)
    if not experiments.is_absolute():
        experiments = project / experiments
    check_experiments_directory(experiments)
    return project, experiments


def check_experiments_directory(experiments: Path) -> None:
    """Refuse a path that is a file, or where nothing can be written."""
    existing = experiments
    while not existing.exists():
        if existing.is_symlink():
            raise InvalidExperimentError(
                f"experiments directory {experiments}: {existing} is a broken symlink"
            )
        existing = existing.parent
    if not existing.is_dir():
        what = "is" if existing == experiments else f"is inside {existing}, which is"
        raise InvalidExperimentError(
            f"experiments directory {experiments} {what} a file, not a directory"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InvalidExperimentError(
            f"experiments directory {experiments} is not writable "
            f"({existing} is read-only for this user)"
        )


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None if missing, unreadable or not an object."""
    try:
        with open(path, encoding="utf-8") as file:
            value = json.load(file)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def decide(folder: Path, reserved: bool, args: dict[str, Any], sha: str) -> str:
    """NEW, CLAIM or RESUME for an explicit or reserved id; raise on mismatch."""
    if not folder.exists():
        return NEW
    if not folder.is_dir():
        raise InvalidExperimentError(f"{folder} exists and is not an experiment folder")
    status = read_status(folder)
    if reserved and status is not None and status[0] == QUEUED:
        reservation = read_json_object(folder / "metadata.json") or {}
        wanted = reservation.get("githead-sha")
        if wanted is not None and wanted != sha:
            raise MismatchedCommitException(
                f"experiment {folder.name} in {folder.parent} was reserved for "
                f"commit {wanted}, but HEAD is {sha}: check out that commit to run it"
            )
        return CLAIM
    check_resumable(folder, args, sha)
    return RESUME


def check_resumable(folder: Path, args: dict[str, Any], sha: str) -> None:
    """Raise unless ``folder`` holds an experiment with these args and commit."""
    recorded_args = read_json_object(folder / "args.json")
    if recorded_args is None:
        raise InvalidExperimentError(
            f"cannot resume {folder}: it has no readable args.json, so it is not a "
            f"recorded experiment (choose another experiment id)"
        )
    if recorded_args != args:
        raise MismatchedArgsException(
            f"cannot resume experiment {folder.name} in {folder.parent}: its "
            f"arguments differ ({describe_difference(recorded_args, args)}); use "
            f"another experiment id to record a new run"
        )
    metadata = read_json_object(folder / "metadata.json") or {}
    recorded_sha = metadata.get("githead-sha")
    if recorded_sha is not None and recorded_sha != sha:
        raise MismatchedCommitException(
            f"cannot resume experiment {folder.name} in {folder.parent}: it was "
            f"recorded at commit {recorded_sha}, but HEAD is {sha}"
        )


def describe_difference(recorded: dict[str, Any], new: dict[str, Any]) -> str:
    differences = []
    for key in sorted(set(recorded) | set(new)):
        if key not in new:
            differences.append(f"{key}: recorded {recorded[key]!r}, now missing")
        elif key not in recorded:
            differences.append(f"{key}: not recorded, now {new[key]!r}")
        elif recorded[key] != new[key]:
            differences.append(f"{key}: recorded {recorded[key]!r}, now {new[key]!r}")
    return "; ".join(differences)


def find_matching(experiments: Path, args: dict[str, Any], sha: str) -> str | None:
    """The latest experiment recorded with these args at this commit (``--resume``)."""
    try:
        names = [e.name for e in os.scandir(experiments) if e.is_dir()]
    except FileNotFoundError:
        return None
    newest_first = sorted(
        (n for n in names if not n.startswith(".")),
        key=lambda n: (is_integer_id(n), int(n) if is_integer_id(n) else 0, n),
        reverse=True,
    )
    for name in newest_first:
        folder = experiments / name
        if read_json_object(folder / "args.json") != args:
            continue
        metadata = read_json_object(folder / "metadata.json") or {}
        status = read_status(folder)
        if metadata.get("githead-sha") == sha and (status or ("",))[0] != QUEUED:
            return name
    return None


def choose_and_lock(
    experiments: Path,
    experiment_id: str | None,
    *,
    reserved: bool,
    resume: bool,
    args: dict[str, Any],
    sha: str,
) -> tuple[str, Path, LockFile]:
    """``(mode, folder, lock)``: the folder this run records into, locked.

    No id: with ``resume``, the latest matching experiment, else a newly
    allocated integer id. An explicit or reserved id: created if missing,
    claimed if QUEUED for us, otherwise resumed if args and commit match.
    """
    if experiment_id is None and resume:
        experiment_id = find_matching(experiments, args, sha)
    if experiment_id is None:
        experiment_id = _allocate(experiments)
        mode = NEW
    else:
        mode = decide(experiments / experiment_id, reserved, args, sha)
        if mode == NEW:
            mode = _create(experiments / experiment_id, reserved, args, sha)
    folder = experiments / experiment_id
    lock = LockFile(folder / ".lock")
    if not lock.acquire(timeout=0):
        raise ExperimentLockedException(
            f"experiment {folder.name} in {folder.parent} is being run by another "
            f"process (its .lock is held); two processes cannot record into one folder"
        )
    if mode != NEW:  # decide again under the lock: another job may have just won
        try:
            mode = decide(folder, reserved, args, sha)
        except BaseException:
            lock.release()
            raise
    return mode, folder, lock


def _allocate(experiments: Path) -> str:
    try:
        return allocate_id(experiments)
    except PermissionError as error:
        raise InvalidExperimentError(
            f"experiments directory {experiments} is not writable: {error}"
        ) from None


def _create(folder: Path, reserved: bool, args: dict[str, Any], sha: str) -> str:
    """mkdir an explicit id's folder; if another process just made it, decide again."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir()
    except FileExistsError:
        return decide(folder, reserved, args, sha)
    except PermissionError as error:
        raise InvalidExperimentError(
            f"experiments directory {folder.parent} is not writable: {error}"
        ) from None
    note_explicit_id(folder.parent, folder.name)
    return NEW
