"""Reservations, the launcher's side: numbered folders for jobs (spec section 5).

A sweep launcher reserves one folder per job before the job runs, so every
point of the sweep is visible (QUEUED) at once and its id is known when it
is submitted. The job's side, reading the reservation from the environment
variables the launcher sets, is :mod:`meticulous.handover` (re-exported here).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .atomic import disk_full_error, replace_in_directory, write_fully
from .exceptions import InvalidExperimentError, MeticulousError
from .filenames import ARGS_FILE, METADATA_FILE, STATUS_FILE
from .handover import (  # noqa: F401 - the job's side, re-exported
    ENV_EXPERIMENT_ID,
    ENV_EXPERIMENTS_DIRECTORY,
    ENV_LAUNCHER,
    Reservation,
    reservation_from_environment,
)
from .ids import allocate_ids
from .jsonable import dumps_document
from .runinfo import SPEC_VERSION
from .safepaths import open_directory
from .status import QUEUED

LauncherInfo = Mapping[str, Any]


def reserve_experiment(
    experiments_directory: str | os.PathLike[str],
    args: Mapping[str, Any],
    *,
    launcher: LauncherInfo | None = None,
    githead_sha: str | None = None,
    description: str = "",
    note: str = "",
) -> str:
    """Allocate an id and mark its folder QUEUED for a job; return the id.

    Writes ``args.json`` (what the job will be given), ``metadata.json``
    (``spec-version``, ``launcher``, ``githead-sha`` and ``description``
    when given) and ``STATUS`` ``QUEUED`` followed by ``note``. Everything
    is serialised before the id is allocated, so bad input allocates nothing.
    """
    if not isinstance(args, Mapping):
        raise InvalidExperimentError(
            f"args must be a dict of argument names to values, not {type(args).__name__}"
        )
    return reserve_experiments(
        experiments_directory,
        [args],
        launcher=launcher,
        githead_sha=githead_sha,
        description=description,
        note=note,
    )[0]


def reserve_experiments(
    experiments_directory: str | os.PathLike[str],
    args_list: Sequence[Mapping[str, Any]],
    *,
    launcher: LauncherInfo | Sequence[LauncherInfo] | None = None,
    githead_sha: str | None = None,
    description: str = "",
    note: str | Sequence[str] = "",
    sync: bool = True,
) -> list[str]:
    """Reserve one QUEUED folder per args dict, in order; return their ids.

    The batch form of :func:`reserve_experiment`, for a sweep launcher:
    ``launcher`` is one dict for every point or a list with one per point,
    and so is ``note`` (one string, or a list of strings).
    Every point is serialised before anything is created, so one bad point
    reserves nothing. The ids lock and the ``last-id`` hint are taken and
    written once, and the ids are consecutive.

    The files are not fsynced one by one (four disk flushes per point made a
    1,000-point sweep spend 1.8 s here) but all at once before returning.
    That is as durable as it needs to be: a launcher submits jobs only after
    this returns, so a machine crash before then loses reservations that no
    job was given. They may then be left half written, which no job reads.
    After it returns, every folder is on disk as a whole.

    ``sync=False`` leaves the flush to the kernel, for a launcher whose own
    submission is not made durable either (submitit does not fsync the
    pickles its jobs start from, so a crash before the kernel writes them
    back fails those jobs however durable their folders are): ``syncfs``
    flushes every writer's data on the file system, and on a busy login node
    it took longer than the rest of a 1,000-point submission.

    This is :func:`allocate_reservations` followed by its ``fill``; a
    launcher with other work to do before it submits can do it meanwhile.
    """
    batch = allocate_reservations(
        experiments_directory,
        args_list,
        launcher=launcher,
        githead_sha=githead_sha,
        description=description,
        note=note,
    )
    batch.fill(sync=sync)
    return batch.ids


class ReservationBatch:
    """Ids allocated for a batch whose folders exist but are still empty.

    Allocating is quick (one lock, one ``mkdir`` per id); writing the folders
    is most of a batch's cost, and a launcher can do it while it prepares
    its submission (in another thread: the work is system calls), as long as
    :meth:`fill` has returned before any job is submitted (spec section 5).
    Until then the folders are ones being created (spec 12.5), which no
    reader mistakes for reservations.
    """

    def __init__(
        self, directory: Path, ids: list[str], files: list[list[tuple[str, bytes]]]
    ) -> None:
        self.directory = directory
        self.ids = ids
        self._files = files

    def fill(self, *, sync: bool = True) -> None:
        """Write every folder, ``STATUS`` last (see :func:`reserve_experiments`
        for ``sync``). On any failure every folder of the batch is removed,
        whole or not, and the error raised: a batch is reserved all or none."""
        if not self.ids:
            return
        try:
            for experiment_id, contents in zip(self.ids, self._files):
                _fill_new_folder(self.directory / experiment_id, contents)
            if sync:
                _make_durable(self.directory, self.ids, self._files)
        except BaseException:
            remove_reservations(self.directory, self.ids)
            raise


def allocate_reservations(
    experiments_directory: str | os.PathLike[str],
    args_list: Sequence[Mapping[str, Any]],
    *,
    launcher: LauncherInfo | Sequence[LauncherInfo] | None = None,
    githead_sha: str | None = None,
    description: str = "",
    note: str | Sequence[str] = "",
) -> ReservationBatch:
    """The first half of :func:`reserve_experiments` (same arguments): check
    and serialise every point, then allocate the ids and create their empty
    folders. Call the batch's ``fill`` before submitting any job."""
    if isinstance(args_list, Mapping) or not isinstance(args_list, Sequence):
        raise InvalidExperimentError(
            f"args_list must be a list of args dicts, not {type(args_list).__name__}"
        )
    launchers = [
        dict(entry or {})
        for entry in _per_point("launcher", launcher, len(args_list), Mapping)
    ]
    notes = _per_point("note", note, len(args_list), str)
    files = [
        _point_files(
            index, args, launchers[index], githead_sha, description, notes[index]
        )
        for index, args in enumerate(args_list)
    ]
    directory = Path(experiments_directory)
    experiment_ids = allocate_ids(directory, len(files)) if files else []
    return ReservationBatch(directory, experiment_ids, files)


def _per_point(what: str, given: Any, count: int, kind: type) -> list[Any]:
    """``given`` for every point, or its items when it is a list of them."""
    if given is None or isinstance(given, kind):
        return [given] * count
    if isinstance(given, (str, bytes)) or not isinstance(given, Sequence):
        raise InvalidExperimentError(
            f"{what} must be a {kind.__name__} or a list of them, "
            f"not {type(given).__name__}"
        )
    if len(given) != count:
        raise InvalidExperimentError(
            f"{what} has {len(given)} entries for {count} points: "
            f"give one for all points or one per point"
        )
    for index, entry in enumerate(given):
        if not isinstance(entry, kind):
            raise InvalidExperimentError(
                f"{what} of point {index} must be a {kind.__name__}, "
                f"not {type(entry).__name__}"
            )
    return list(given)


def _point_files(
    index: int,
    args: Any,
    launcher: dict[str, Any],
    githead_sha: str | None,
    description: str,
    note: str,
) -> list[tuple[str, bytes]]:
    """The files of one reserved folder, in the order they are written
    (``STATUS`` last: a folder that says QUEUED has its args)."""
    if not isinstance(args, Mapping):
        raise InvalidExperimentError(
            f"args of point {index} must be a dict of argument names to values, "
            f"not {type(args).__name__}"
        )
    metadata: dict[str, Any] = {"spec-version": SPEC_VERSION, "launcher": launcher}
    if githead_sha is not None:
        metadata["githead-sha"] = str(githead_sha)
    if description:
        metadata["description"] = str(description)
    try:
        args_text = dumps_document(dict(args))
        metadata_text = dumps_document(metadata)
    except MeticulousError as error:
        raise type(error)(f"point {index}: {error}") from None
    status = QUEUED + "\n"
    if note:
        status += note if note.endswith("\n") else note + "\n"
    return [
        (ARGS_FILE, args_text.encode("utf-8")),
        (METADATA_FILE, metadata_text.encode("utf-8")),
        (STATUS_FILE, status.encode("utf-8")),
    ]


def _fill_new_folder(folder: Path, contents: list[tuple[str, bytes]]) -> None:
    """Write a reserved folder that :func:`allocate_ids` has just made.

    No one else writes in it, and until ``STATUS`` exists readers report it
    as being created (spec 12.5), so every file but ``STATUS`` is created in
    place, exclusively (``O_EXCL`` never follows a planted link), instead of
    through a temporary file and a rename: a third of the system calls of a
    1,000-point sweep. ``STATUS``, which makes it a reservation, comes last
    and is an atomic replace, so a folder that says QUEUED is whole. The
    folder is opened once (never through a link) for all of it.
    """
    *plain, (status_name, status) = contents
    descriptor = open_directory(folder)
    try:
        for name, data in plain:
            try:
                fd = os.open(name, _NEW_FILE_FLAGS, 0o666, dir_fd=descriptor)
                try:
                    write_fully(fd, data)
                finally:
                    os.close(fd)
            except OSError as error:
                raise disk_full_error(f"writing {folder / name}", error) from None
        replace_in_directory(
            descriptor, status_name, status, shown=folder / status_name, sync=False
        )
    finally:
        os.close(descriptor)


# O_CREAT with O_EXCL fails on any existing name, a link too
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _make_durable(
    directory: Path, experiment_ids: list[str], files: list[list[tuple[str, bytes]]]
) -> None:
    """Flush everything just written to disk, the folders' entries included.

    ``syncfs`` flushes the whole file system in one call, where the kernel
    can batch all of it; without it (not Linux), one pass of fsyncs.
    """
    if _syncfs(directory):
        return
    for experiment_id, contents in zip(experiment_ids, files):
        folder = directory / experiment_id
        for name, _ in contents:
            _fsync_path(folder / name)
        _fsync_path(folder, directory=True)
    _fsync_path(directory, directory=True)


def _syncfs(directory: Path) -> bool:
    """``syncfs(2)`` on the file system holding ``directory``; False if absent."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (ImportError, OSError, AttributeError):
        return False
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        if syncfs(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"syncfs {directory}: {os.strerror(error)}")
    finally:
        os.close(fd)
    return True


def _fsync_path(path: Path, *, directory: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        if directory:  # Windows cannot open a directory (nor needs to)
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:  # some systems cannot fsync a directory
            raise
    finally:
        os.close(fd)


def remove_reservations(directory: Path, experiment_ids: list[str]) -> None:
    """Undo a batch that failed halfway (a full disk), or that a launcher
    stopped before submitting it: no job has these ids, so nothing recorded
    is lost; the hint has moved past them, so they are never reused either."""
    import shutil

    for experiment_id in experiment_ids:
        shutil.rmtree(directory / experiment_id, ignore_errors=True)
