"""Tags: the one file a reader writes in an experiment folder (spec §15).

An update reads ``tags.json``, changes the given keys and replaces the whole
file atomically, holding ``flock(.tags.lock)`` so that two taggers (a user
and a running recorder) never lose each other's keys. Every name is opened
relative to the folder's descriptor with ``O_NOFOLLOW``: a planted symlink
(the folder, ``tags.json``, ``.tags.lock``) is an error naming it, and
nothing is written anywhere else.
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import stat
from collections.abc import Iterable, Mapping
from typing import Any

from .spec import TAGS_FILE, special_text

FILE_NAME = TAGS_FILE
LOCK_NAME = ".tags.lock"
MAX_KEY = 200
MAX_BYTES = 16 * 1024 * 1024  # like every JSON file the reader reads


class TagError(ValueError):
    """A tag update that cannot be made; nothing was written."""


def check_key(key: object) -> str:
    if not isinstance(key, str) or not key:
        raise TagError(f"a tag name is a non-empty string, not {key!r}")
    if len(key) > MAX_KEY:
        raise TagError(f"tag name {key[:20]!r}… is longer than {MAX_KEY} characters")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in key):
        raise TagError(f"tag name {key!r} holds a control character")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in key):
        raise TagError(f"tag name {key!r} is not valid UTF-8")
    return key


def _plain(value: Any) -> Any:
    """NaN and infinities as the spec's strings (§2)."""
    if isinstance(value, float) and not math.isfinite(value):
        return special_text(value)
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def parse_assignment(text: str) -> tuple[str, Any]:
    """``key=value`` from the command line: the value as JSON when it is JSON.

    ``best=true``, ``best=True``, ``rank=3``, ``note=rerun of 12`` give
    True, True, 3 and the string; quote a value to keep it text (``id='"3"'``).
    """
    key, equals, raw = text.partition("=")
    if not equals:
        raise TagError(f"expected key=value, got {text!r}")
    check_key(key)
    spelled = {"True": True, "False": False, "None": None}
    if raw in spelled:
        return key, spelled[raw]
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


def _open_folder(folder: str) -> int:
    try:
        return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(folder):
            raise TagError(f"{folder!r} is a symlink: tags are not written through it")
        raise TagError(f"cannot open {folder!r}: {error.strerror}") from None


def _read_current(folder_fd: int, folder: str) -> dict:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        descriptor = os.open(FILE_NAME, flags, dir_fd=folder_fd)
    except FileNotFoundError:
        return {}
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise TagError(f"{folder}/{FILE_NAME} is a symlink; remove it first")
        raise TagError(f"cannot read {folder}/{FILE_NAME}: {error.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise TagError(f"{folder}/{FILE_NAME} is not a regular file")
        chunks, size = [], 0
        while size <= MAX_BYTES:
            chunk = os.read(descriptor, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_BYTES:
            raise TagError(f"{folder}/{FILE_NAME} is larger than {MAX_BYTES} bytes")
    finally:
        os.close(descriptor)
    try:
        current = json.loads(b"".join(chunks))
    except (ValueError, RecursionError):
        current = None
    if not isinstance(current, dict):
        raise TagError(
            f"{folder}/{FILE_NAME} is not a JSON object; fix or remove it"
            " (it is left as it is)"
        )
    return current


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


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
            _write_all(descriptor, data)
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


def update_tags(
    folder: str | os.PathLike,
    values: Mapping[str, Any] | None = None,
    remove: Iterable[str] = (),
) -> dict:
    """Set ``values`` and remove the keys in ``remove``; the tags afterwards."""
    folder = os.fspath(folder)
    changes = {check_key(key): _plain(value) for key, value in (values or {}).items()}
    removed = [check_key(key) for key in remove]
    try:  # serialisable before anything is touched
        json.dumps(changes, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TagError(f"tags must be JSON values: {error}") from None
    folder_fd = _open_folder(folder)
    try:
        try:
            lock = os.open(
                LOCK_NAME,
                os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o666,
                dir_fd=folder_fd,
            )
        except OSError as error:
            reason = "is a symlink" if error.errno == errno.ELOOP else error.strerror
            raise TagError(f"cannot lock {folder}/{LOCK_NAME}: {reason}") from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            tags = _read_current(folder_fd, folder)
            tags.update(changes)
            for key in removed:
                tags.pop(key, None)
            text = json.dumps(tags, indent=4, ensure_ascii=False) + "\n"
            try:
                _replace(folder_fd, text.encode("utf-8"))
            except OSError as error:
                raise TagError(
                    f"cannot write {folder}/{FILE_NAME}: {error.strerror}"
                ) from None
            return tags
        finally:
            os.close(lock)  # releases the flock
    finally:
        os.close(folder_fd)
