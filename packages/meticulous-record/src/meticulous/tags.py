"""``experiment.tag({...})``: update ``tags.json`` as spec §15 says.

Readers (``meticulous tag``) update the same file at any time, also while
the run is going, so every update is a read-change-replace under
``flock(.tags.lock)``; the run's ``.lock`` is not involved. Names are
opened relative to the folder's descriptor with ``O_NOFOLLOW``, so a
planted symlink is an error and nothing is written outside the folder.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .atomic import write_fully
from .exceptions import InvalidSummaryError, InvalidTagError, TagsFileError
from .filenames import TAGS_FILE
from .jsonable import dumps_document, readable

FILE_NAME = TAGS_FILE
LOCK_NAME = ".tags.lock"
MAX_KEY = 200
MAX_BYTES = 16 * 1024 * 1024


def _check_keys(values: Mapping[str, Any]) -> None:
    for key in values:
        if (
            not isinstance(key, str)
            or not key
            or len(key) > MAX_KEY
            or any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in key)
            or any(0xD800 <= ord(c) <= 0xDFFF for c in key)  # not UTF-8
        ):
            raise InvalidTagError(
                f"tag names are non-empty strings of at most {MAX_KEY} characters"
                f" without control characters or lone surrogates, not {key!r}"
            )


def _read(folder_fd: int, where: Path) -> dict[str, Any]:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        descriptor = os.open(FILE_NAME, flags, dir_fd=folder_fd)
    except FileNotFoundError:
        return {}
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise TagsFileError(f"{where} is a symlink; nothing was written") from None
        raise TagsFileError(f"cannot read {where}: {error.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise TagsFileError(f"{where} is not a regular file")
        data = os.read(descriptor, MAX_BYTES + 1)
        while len(data) <= MAX_BYTES:
            more = os.read(descriptor, MAX_BYTES + 1 - len(data))
            if not more:
                break
            data += more
    finally:
        os.close(descriptor)
    try:
        current = json.loads(data) if len(data) <= MAX_BYTES else None
    except (ValueError, RecursionError):
        current = None
    if not isinstance(current, dict):
        raise TagsFileError(f"{where} is not a JSON object; it is left as it is")
    return current


def _replace(folder_fd: int, data: bytes) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    while True:
        temporary = f".{FILE_NAME}.tmp-{os.urandom(6).hex()}"
        try:
            descriptor = os.open(temporary, flags, 0o666, dir_fd=folder_fd)
            break
        except FileExistsError:
            continue
    try:
        try:
            write_fully(descriptor, data)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, FILE_NAME, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
    except BaseException:
        try:
            os.unlink(temporary, dir_fd=folder_fd)
        except OSError:
            pass
        raise


def update(folder: Path, values: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``values`` into the folder's tags; the tags afterwards."""
    if not isinstance(values, Mapping):
        raise InvalidSummaryError(
            f"tag() takes a dict of names to values, not {type(values).__name__}"
        )
    _check_keys(values)
    changes = readable(dict(values))  # spec §2.6 forms; raises before any write
    folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        try:
            lock = os.open(
                LOCK_NAME,
                os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o666,
                dir_fd=folder_fd,
            )
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise TagsFileError(f"{folder / LOCK_NAME} is a symlink") from None
            raise
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            tags = _read(folder_fd, folder / FILE_NAME)
            tags.update(changes)
            _replace(folder_fd, dumps_document(tags).encode("utf-8"))
            return tags
        finally:
            os.close(lock)
    finally:
        os.close(folder_fd)
