"""Opening files in an experiment folder without following symbolic links
(spec 12.1).

Experiments directories are shared: anyone who can write to one can plant
``summary.json -> ~/.ssh/authorized_keys`` in a folder before it is
resumed, or a ``checkpoints -> /elsewhere`` link for ``experiment.open``.
A path resolved by the kernel follows such links, so every file is opened
here relative to a descriptor of its folder, with ``O_NOFOLLOW`` on the
folder itself and on the file, and checked with ``fstat`` to be a regular
file (a FIFO would hang a write; ``O_NONBLOCK`` makes opening one fail or
return at once). Only the last component of the folder's own path may not
be a link: the experiments directory being a link to scratch space is the
user's choice, not a plant.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import PurePath
from typing import Union

from . import filenames
from .exceptions import InvalidExperimentError, UnsafePathError

PathLike = Union[str, "os.PathLike[str]"]

# The files of spec section 2 that the recorder opens in a folder.
RECORDER_FILES = frozenset(
    (
        filenames.STATUS_FILE,
        filenames.METADATA_FILE,
        filenames.ARGS_FILE,
        filenames.DEFAULT_ARGS_FILE,
        filenames.SUMMARY_FILE,
        filenames.METRICS_FILE,
        filenames.STDOUT_FILE,
        filenames.STDERR_FILE,
        filenames.HEARTBEAT_FILE,
        filenames.DIRTY_PATCH_FILE,
        filenames.UNTRACKED_FILE,
        filenames.LOCK_FILE,
    )
)
CLAIM_PREFIX = ".claim"  # .claim and .claim-takeover-<token> (spec 12.4)

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _CLOEXEC
_LINK_ERRORS = {errno.ELOOP, errno.ENOTDIR, errno.EMLINK}


def open_directory(path: PathLike) -> int:
    """A descriptor of the directory ``path``, which must not be a symbolic link."""
    try:
        return os.open(path, _DIRECTORY_FLAGS)
    except OSError as error:
        if error.errno in _LINK_ERRORS and os.path.islink(path):
            raise _link_error(path) from None
        raise


def open_at(
    directory: int, name: str, flags: int, shown: PathLike, mode: int = 0o666
) -> int:
    """Open ``name`` in the directory open as ``directory``: no link, regular file.

    ``shown`` is the path an error names.
    """
    try:
        fd = os.open(
            name, flags | _NOFOLLOW | _CLOEXEC | os.O_NONBLOCK, mode, dir_fd=directory
        )
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise _link_error(shown) from None
        if error.errno == errno.ENXIO:  # a FIFO nobody reads, opened for writing
            raise _not_regular(shown, "a FIFO") from None
        raise
    try:
        kind = os.fstat(fd).st_mode
        if not stat.S_ISREG(kind):
            raise _not_regular(shown, _kind_name(kind))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_file(path: PathLike, flags: int, mode: int = 0o666) -> int:
    """Open ``path`` as :func:`open_at` does from its parent folder's descriptor."""
    parent, name = os.path.split(os.fspath(path))
    directory = open_directory(parent or ".")
    try:
        return open_at(directory, name, flags, path, mode)
    finally:
        os.close(directory)


def read_file(path: PathLike, limit: int = 64 << 20) -> bytes:
    """The content of ``path`` (at most ``limit`` bytes), opened as :func:`open_file`."""
    fd = open_file(path, os.O_RDONLY)
    try:
        chunks = []
        remaining = limit
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def check_folder(folder: PathLike) -> None:
    """Refuse a folder whose recorder files are links or not regular files.

    Called before anything is written into an existing folder, so a planted
    file is named in the error and no byte goes anywhere (spec 12.1).
    """
    directory = open_directory(folder)
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                name = entry.name
                if name not in RECORDER_FILES and not name.startswith(CLAIM_PREFIX):
                    continue
                shown = os.path.join(os.fspath(folder), name)
                if entry.is_symlink():
                    raise _link_error(shown)
                if not entry.is_file(follow_symlinks=False):
                    kind = entry.stat(follow_symlinks=False).st_mode
                    raise _not_regular(shown, _kind_name(kind))
    finally:
        os.close(directory)


def open_inside(folder: PathLike, relative: PathLike, mode: str) -> int:
    """A descriptor for ``relative`` inside ``folder``, for ``experiment.open``.

    Each component is opened from its parent's descriptor with
    ``O_NOFOLLOW``; missing folders are created when ``mode`` writes.
    """
    text = os.fspath(relative)
    parts = _relative_parts(folder, text)
    writing = any(flag in mode for flag in "wax+")
    flags = _open_flags(mode)
    directory = open_directory(folder)
    try:
        for depth, part in enumerate(parts[:-1]):
            shown = os.path.join(os.fspath(folder), *parts[: depth + 1])
            child = _open_subfolder(directory, part, shown, create=writing)
            os.close(directory)
            directory = child
        return open_at(
            directory, parts[-1], flags, os.path.join(os.fspath(folder), *parts)
        )
    finally:
        os.close(directory)


def _open_subfolder(directory: int, name: str, shown: str, *, create: bool) -> int:
    for _ in range(2):
        try:
            return os.open(name, _DIRECTORY_FLAGS, dir_fd=directory)
        except FileNotFoundError:
            if not create:
                raise
            try:
                os.mkdir(name, 0o777, dir_fd=directory)
            except FileExistsError:
                pass
        except OSError as error:
            if error.errno in _LINK_ERRORS:
                info = os.stat(name, dir_fd=directory, follow_symlinks=False)
                if stat.S_ISLNK(info.st_mode):
                    raise _link_error(shown) from None
            raise
    return os.open(name, _DIRECTORY_FLAGS, dir_fd=directory)


def _relative_parts(folder: PathLike, text: str) -> tuple[str, ...]:
    normal = os.path.normpath(text) if text else ""
    parts = PurePath(normal).parts
    if not parts or PurePath(text).is_absolute() or parts[0] == ".." or normal == ".":
        raise InvalidExperimentError(
            f"{text!r} is outside the experiment folder {os.fspath(folder)}; "
            f"experiment.open takes a path relative to it"
        )
    return parts


def _open_flags(mode: str) -> int:
    if "+" in mode:
        access = os.O_RDWR
    elif any(flag in mode for flag in "wax"):
        access = os.O_WRONLY
    else:
        access = os.O_RDONLY
    if "w" in mode:
        return access | os.O_CREAT | os.O_TRUNC
    if "a" in mode:
        return access | os.O_CREAT | os.O_APPEND
    if "x" in mode:
        return access | os.O_CREAT | os.O_EXCL
    return access


def _kind_name(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _link_error(path: PathLike) -> UnsafePathError:
    return UnsafePathError(
        errno.ELOOP,
        f"{os.fspath(path)} is a symbolic link: meticulous never follows links "
        f"inside an experiment folder (it could write or read outside it); "
        f"remove the link",
    )


def _not_regular(path: PathLike, kind: str) -> UnsafePathError:
    return UnsafePathError(
        errno.EINVAL,
        f"{os.fspath(path)} is {kind}, not a regular file: meticulous only "
        f"opens regular files in an experiment folder; remove it",
    )
