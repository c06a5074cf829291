"""Atomic replacement of whole files (spec section 2, "atomic replace").

A reader on another host may read ``metadata.json`` at any moment, and a
full disk or a killed process may interrupt a write: writing to a temporary
file in the same folder and renaming it over the target means readers see
the old content or the new one, never a truncation. The temporary name
starts with ``.`` so readers skip it; it is created with ``O_EXCL`` and the
default permissions (0o666 minus the umask), so files stay readable by a
research group exactly as if ``open(path, "w")`` had made them.

Both the temporary file and the rename work from a descriptor of the
folder opened without following a link (spec 12.1): ``O_EXCL`` never
follows a planted link, and the rename replaces a link rather than writing
through it.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any, Union

from .exceptions import StorageError
from .jsonable import dumps_document
from .safepaths import open_directory

PathLike = Union[str, "os.PathLike[str]"]


def write_bytes_atomic(path: PathLike, data: bytes, *, sync: bool = True) -> None:
    """Replace ``path`` with ``data``: temp file, fsync, then ``os.replace``.

    ``sync=False`` skips the fsync for a caller that writes many files and
    makes them durable together afterwards (batch reservations, spec §5);
    the replace stays atomic either way.
    """
    target = Path(path)
    folder = open_directory(target.parent)
    try:
        replace_in_directory(folder, target.name, data, shown=target, sync=sync)
    finally:
        os.close(folder)


def replace_in_directory(
    folder: int, name: str, data: bytes, *, shown: PathLike, sync: bool = True
) -> None:
    """:func:`write_bytes_atomic` of ``name`` in the directory open as
    ``folder``, for a writer that has the folder open already (a batch of
    reservations writes four files in each new folder). ``shown`` is the
    path an error names."""
    temporary = _create_temporary(folder, name)
    try:
        _write_all(temporary[0], data, sync)
        os.replace(temporary[1], name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException as error:
        _remove_quietly(folder, temporary[1])
        if isinstance(error, OSError):
            failure = disk_full_error(f"writing {shown}", error)
            if failure is not error:
                raise failure from None
        raise


def write_fully(fd: int, data: bytes) -> None:
    """All of ``data``: ``os.write`` may write less (a signal, a full disk's
    last blocks, a pipe), and the rest must follow, not be dropped."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_all(fd: int, data: bytes, sync: bool) -> None:
    try:
        write_fully(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path: PathLike, text: str, *, sync: bool = True) -> None:
    """Replace ``path`` with ``text`` encoded as UTF-8."""
    write_bytes_atomic(path, text.encode("utf-8"), sync=sync)


def write_json_atomic(path: PathLike, obj: Any) -> None:
    """Replace ``path`` with ``obj`` as indented JSON (readable forms, NaN strings).

    ``obj`` is serialised completely before the folder is touched, so a value
    that cannot be recorded raises with the old file intact.
    """
    write_bytes_atomic(path, dumps_document(obj).encode("utf-8"))


FULL_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def disk_full_error(what: str, error: OSError) -> OSError:
    """``error`` as a StorageError saying ``what`` failed, when the disk is
    full (spec 12.2); any other error unchanged."""
    if error.errno not in FULL_DISK_ERRORS:
        return error
    return StorageError(error.errno, f"{what}: {error.strerror or error}")


def _create_temporary(folder: int, name: str) -> tuple[int, str]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        temporary = f".{name}.tmp-{os.urandom(6).hex()}"
        try:
            return os.open(temporary, flags, 0o666, dir_fd=folder), temporary
        except FileExistsError:
            continue


def _remove_quietly(folder: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=folder)
    except FileNotFoundError:
        pass
