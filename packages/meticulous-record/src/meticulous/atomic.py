"""Atomic replacement of whole files (spec section 2, "atomic replace").

A reader on another host may read ``metadata.json`` at any moment, and a
full disk or a killed process may interrupt a write: writing to a temporary
file in the same folder and renaming it over the target means readers see
the old content or the new one, never a truncation. The temporary name
starts with ``.`` so readers skip it; it is created with ``O_EXCL`` and the
default permissions (0o666 minus the umask), so files stay readable by a
research group exactly as if ``open(path, "w")`` had made them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Union

from .jsonable import dumps_document

PathLike = Union[str, "os.PathLike[str]"]


def write_bytes_atomic(path: PathLike, data: bytes, *, sync: bool = True) -> None:
    """Replace ``path`` with ``data``: temp file, fsync, then ``os.replace``.

    ``sync=False`` skips the fsync for a caller that writes many files and
    makes them durable together afterwards (batch reservations, spec §5);
    the replace stays atomic either way.
    """
    target = Path(path)
    fd, temporary = _create_temporary(target)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, target)
    except BaseException:
        _remove_quietly(temporary)
        raise


def write_text_atomic(path: PathLike, text: str) -> None:
    """Replace ``path`` with ``text`` encoded as UTF-8."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: PathLike, obj: Any) -> None:
    """Replace ``path`` with ``obj`` as indented JSON (readable forms, NaN strings).

    ``obj`` is serialised completely before the folder is touched, so a value
    that cannot be recorded raises with the old file intact.
    """
    write_bytes_atomic(path, dumps_document(obj).encode("utf-8"))


def _create_temporary(target: Path) -> tuple[int, str]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        name = target.parent / f".{target.name}.tmp-{os.urandom(6).hex()}"
        try:
            return os.open(name, flags, 0o666), str(name)
        except FileExistsError:
            continue


def _remove_quietly(name: str) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass
