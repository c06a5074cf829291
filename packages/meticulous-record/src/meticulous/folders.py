"""Choosing the experiment folder and taking its lock.

Every check reads and never writes, so a refusal (bad directory, mismatched
args or commit, a folder in use) leaves every existing experiment byte for
byte as it was (spec sections 3, 5 and 6). The only writes are creating a
new folder (``mkdir``), its ``.lock`` and its claim (spec 12.4). An existing
folder is checked for planted links before anything is read from it
(spec 12.1).
"""

from __future__ import annotations

import json
import os
from enum import Enum
from pathlib import Path
from typing import Any

from .atomic import FULL_DISK_ERRORS, disk_full_error
from .claim import Claim, take_claim
from .exceptions import (
    ExperimentLockedException,
    InvalidExperimentError,
    MismatchedArgsException,
    MismatchedCommitException,
    StorageError,
)
from .filenames import ARGS_FILE, LOCK_FILE, METADATA_FILE, STATUS_FILE
from .ids import allocate_id, is_integer_id, note_explicit_id
from .liveness import heartbeat_interval
from .locks import LockFile
from .runinfo import hostname
from .safepaths import RECORDER_FILES, check_folder, read_file
from .status import QUEUED, read_status


class FolderMode(Enum):
    """What a run does with the folder it records into (spec 3, 5, 6, 12.5)."""

    NEW = "new"  # the folder does not exist yet: create it
    CLAIM = "claim"  # a launcher's QUEUED reservation: start a new run in it
    RESUME = "resume"  # an experiment recorded before: continue it
    RECOVER = "recover"  # a folder whose start was cut off: start a new run in it


NEW, CLAIM, RESUME, RECOVER = FolderMode


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
        value = json.loads(read_file(path))
    except (OSError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def decide(
    folder: Path, reserved: bool, args: dict[str, Any], sha: str, held: bool = True
) -> FolderMode:
    """NEW, CLAIM or RESUME for an explicit or reserved id; raise on mismatch.

    ``held`` is False for the first look, before this process holds the
    folder's lock and claim: another resumer may be replacing
    ``metadata.json`` then, and a network filesystem's attribute cache can
    show the new file cut at the old one's size. Only the look under lock
    and claim refuses an unreadable ``metadata.json``.
    """
    if not folder.exists() and not folder.is_symlink():
        return NEW
    check_folder(folder)  # a link or not a folder: an error naming it
    status = read_status(folder)
    if status is None and never_started(folder):
        return RECOVER  # a start killed before STATUS: record the run in it (12.5)
    if reserved and status is not None and status[0] == QUEUED:
        reservation = read_json_object(folder / METADATA_FILE) or {}
        wanted = reservation.get("githead-sha")
        if wanted is not None and wanted != sha:
            raise MismatchedCommitException(
                f"experiment {folder.name} in {folder.parent} was reserved for "
                f"commit {wanted}, but HEAD is {sha}: check out that commit to run it"
            )
        return CLAIM
    check_resumable(folder, args, sha, held)
    return RESUME


def check_resumable(
    folder: Path, args: dict[str, Any], sha: str, held: bool = True
) -> None:
    """Raise unless ``folder`` holds an experiment with these args and commit."""
    recorded_args = read_json_object(folder / ARGS_FILE)
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
    try:
        metadata = _recorded_metadata(folder)
    except InvalidExperimentError:
        if held:
            raise
        return  # looked at again under lock and claim
    recorded_sha = metadata.get("githead-sha")
    if recorded_sha is not None and recorded_sha != sha:
        raise MismatchedCommitException(
            f"cannot resume experiment {folder.name} in {folder.parent}: it was "
            f"recorded at commit {recorded_sha}, but HEAD is {sha}"
        )


def _recorded_metadata(folder: Path) -> dict[str, Any]:
    """The metadata a resume keeps, or a refusal: a ``metadata.json`` that
    cannot be read as an object would otherwise be replaced by the resume's,
    losing the run's recorded start (spec 6)."""
    path = folder / METADATA_FILE
    if not os.path.lexists(path):
        return {}
    try:
        value = json.loads(read_file(path))
    except (OSError, ValueError, RecursionError) as error:
        reason = (error.strerror or str(error)) if isinstance(error, OSError) else error
        problem = f"cannot be read as JSON ({reason})"
    else:
        if isinstance(value, dict):
            return value
        problem = f"holds a JSON {type(value).__name__}, not an object"
    raise InvalidExperimentError(
        f"cannot resume experiment {folder.name} in {folder.parent}: its "
        f"{path} {problem}; nothing was changed. Repair or move that file, or "
        f"use another experiment id"
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
        if read_json_object(folder / ARGS_FILE) != args:
            continue
        metadata = read_json_object(folder / METADATA_FILE) or {}
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
) -> tuple[FolderMode, Path, FolderHold]:
    """``(mode, folder, lock)``: the folder this run records into, locked.

    No id: with ``resume``, the latest matching experiment, else a newly
    allocated integer id. An explicit or reserved id: created if missing,
    claimed if QUEUED for us, otherwise resumed if args and commit match.
    """
    interval = heartbeat_interval(os.environ)  # a bad override fails before mkdir
    if experiment_id is None and resume:
        experiment_id = find_matching(experiments, args, sha)
    if experiment_id is None:
        experiment_id = _allocate(experiments)
        mode = NEW
    else:
        mode = decide(experiments / experiment_id, reserved, args, sha, held=False)
        if mode == NEW:
            mode = _create(experiments / experiment_id, reserved, args, sha)
    folder = experiments / experiment_id
    created = mode == NEW
    lock = LockFile(folder / LOCK_FILE)
    hold = FolderHold(lock, created)
    try:
        if not lock.acquire(timeout=0):
            raise ExperimentLockedException(
                f"experiment {folder.name} in {folder.parent} is being run by another "
                f"process (its .lock is held); two processes cannot record into one "
                f"folder"
            )
        hold.claim = take_claim(folder, hostname(), os.getpid(), interval)
        if not created:  # decide again under lock and claim: another may have won
            mode = decide(folder, reserved, args, sha)
    except BaseException as error:
        hold.release()
        if created:
            remove_failed_start(folder)
        if isinstance(error, OSError):
            kept = "its folder was removed" if created else "the folder is unchanged"
            failure = disk_full_error(
                f"cannot start experiment {folder.name} in {folder.parent}, nothing "
                f"was recorded ({kept})",
                error,
            )
            if failure is not error:
                raise failure from None
        raise
    return mode, folder, hold


def _allocate(experiments: Path) -> str:
    try:
        return allocate_id(experiments)
    except PermissionError as error:
        raise InvalidExperimentError(
            f"experiments directory {experiments} is not writable: {error}"
        ) from None
    except OSError as error:
        failure = disk_full_error(
            f"cannot start a new experiment in {experiments}: allocating its id "
            f"failed, nothing was recorded",
            error,
        )
        if failure is error:
            raise
        raise failure from None


def _create(folder: Path, reserved: bool, args: dict[str, Any], sha: str) -> FolderMode:
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
    except OSError as error:
        failure = disk_full_error(
            f"cannot create {folder}, nothing was recorded", error
        )
        if failure is error:
            raise
        raise failure from None
    note_explicit_id(folder.parent, folder.name)
    return NEW


class FolderHold:
    """The folder's ``.lock`` and claim, held together and released together:
    the claim first (after the terminal STATUS, spec 12.4), then the lock."""

    def __init__(self, lock: LockFile, created: bool) -> None:
        self.lock = lock
        self.claim: Claim | None = None
        self.created = created  # this process made the folder (mkdir)

    def release(self) -> None:
        if self.claim is not None:
            self.claim.release()
            self.claim = None
        self.lock.release()


def never_started(folder: Path) -> bool:
    """A folder whose start was cut off before its metadata: neither STATUS
    nor metadata.json (spec 12.5)."""
    return not any(
        os.path.lexists(folder / name) for name in (STATUS_FILE, METADATA_FILE)
    )


def remove_failed_start(folder: Path) -> bool:
    """Remove a folder this process created and could not start (spec 12.2):
    only the recorder's own files and temporary files, then the folder."""
    try:
        names = os.listdir(folder)
    except OSError:
        return False
    for name in names:
        if name in RECORDER_FILES or name.startswith("."):
            try:
                os.unlink(folder / name)
            except OSError:
                pass
    try:
        os.rmdir(folder)
    except OSError:
        return False
    return True


def failed_start(
    folder: Path | None, error: BaseException, *, remove: bool
) -> BaseException:
    """The error a start that failed after choosing ``folder`` raises.

    A folder this process created is removed (spec 12.2), so a full disk
    leaves nothing behind; the error then says so.
    """
    removed = remove and folder is not None and remove_failed_start(folder)
    if not isinstance(error, OSError) or error.errno not in FULL_DISK_ERRORS:
        return error
    kept = "its folder was removed" if removed else "it was left without STATUS"
    return StorageError(
        error.errno,
        f"cannot start experiment {folder.name if folder else ''}: "
        f"{_what_failed(error)}; nothing was recorded ({kept})",
    )


def failed_end(folder: Path, word: str, error: OSError) -> StorageError:
    """Writing the terminal STATUS failed: mark the heartbeat ended instead,
    so readers report DEAD at once (spec 12.2), and say it in one line."""
    from .heartbeat import mark_ended

    marked = mark_ended(folder)
    told = "readers will report it DEAD" if marked else "it may show as RUNNING"
    return StorageError(
        error.errno or 0,
        f"could not record the end ({word}) of experiment {folder.name} in "
        f"{folder.parent}: {_what_failed(error)}; {told}",
    )


def _what_failed(error: OSError) -> str:
    return (
        str(error.strerror or error) if isinstance(error, StorageError) else str(error)
    )
