"""Reading files a stranger may have planted: bounded, non-blocking, no links (spec §8).

An experiments folder is shared: anyone who can write to it can put a FIFO
where ``STATUS`` should be (an ``open`` that never returns), a link to
``/dev/zero`` as ``metadata.json`` (a read that never ends), a gigabyte of
output, or JSON nested a hundred thousand levels deep. Every file the reader
reads goes through here, so that each of those costs one sentence in the
folder's ``BROKEN`` message instead of a hang, a MemoryError or a
RecursionError:

* files are opened with ``O_NONBLOCK`` (a FIFO opens at once) and
  ``O_NOFOLLOW`` (a planted link is refused, not followed out of the
  folder), relative to the experiment folder's own descriptor, and must be
  regular files by ``fstat``;
* at most a documented number of bytes is read per file (``JSON_LIMIT``,
  ``TEXT_LIMIT``), and large output is read from its end (``read_tail``);
* parsed JSON is checked for depth and width (``JSON_DEPTH_LIMIT``,
  ``JSON_VALUES_LIMIT``) before anything walks it recursively.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from typing import Any

MiB = 1024 * 1024
JSON_LIMIT = (
    16 * MiB
)  # STATUS, metadata.json, args.json, default_args.json, summary.json
TEXT_LIMIT = 64 * MiB  # stdout, stderr, dirty.patch read whole (beyond: the tail)
METRICS_LIMIT = 512 * MiB  # metrics.jsonl
JSON_DEPTH_LIMIT = 32  # nested objects and lists in one value
JSON_VALUES_LIMIT = 1000  # values (flattened) of one file that become columns

_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
FOLDER_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_DIRECTORY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_ESCAPED_BYTE = re.compile(r"\\x([0-9a-f]{2})")
_DIR_FD = os.open in os.supports_dir_fd


class UnsafeFile(OSError):
    """A file the reader refuses to read: not a regular file, or too large."""


def describe_error(error: OSError) -> str:
    """The reason of an OSError as a short phrase (no path: the caller names it)."""
    if isinstance(error, UnsafeFile):
        return str(error)
    if error.errno == errno.ELOOP:
        return "it is a symbolic link (not followed)"
    return error.strerror or type(error).__name__


def open_folder(path: str, follow_link: bool = True) -> int:
    """A descriptor of an experiment folder; ``follow_link=False`` refuses a link."""
    flags = FOLDER_FLAGS if not follow_link else FOLDER_FLAGS & ~_NOFOLLOW
    return os.open(path, flags)


def open_regular(name: str, folder_fd: int | None = None) -> int:
    """A descriptor of a regular file; UnsafeFile or OSError otherwise.

    ``name`` is relative to ``folder_fd`` when one is given (``openat``), so
    only the last component could be a link, and ``O_NOFOLLOW`` refuses it.
    """
    return _open_checked(name, folder_fd)[0]


def _open_checked(name: str, folder_fd: int | None) -> tuple[int, int]:
    """(descriptor, size by fstat) of a regular file: one open, one fstat."""
    if folder_fd is not None and _DIR_FD:
        descriptor = os.open(name, _READ_FLAGS, dir_fd=folder_fd)
    else:
        descriptor = os.open(name, _READ_FLAGS)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(f"it is not a regular file ({_kind(info.st_mode)})")
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor, info.st_size


def _kind(mode: int) -> str:
    for test, word in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return word
    return "not a file"


def _read_all(descriptor: int, size: int, limit: int) -> bytes:
    if size > limit:
        raise UnsafeFile(f"it is larger than the reader's limit ({_size(size)})")
    data = _read_up_to(descriptor, limit + 1, size)
    if len(data) > limit:  # grew while we read
        raise UnsafeFile(f"it is larger than the reader's limit ({_size(limit)})")
    return data


def _read_up_to(descriptor: int, count: int, expected: int) -> bytes:
    """At most ``count`` bytes from the current offset; one ``read`` when it can.

    A small file is one ``read`` of its size plus one byte: a shorter answer
    that reaches the size ``fstat`` gave is the end, no second call needed.
    """
    chunks = []
    total = 0
    while total < count:
        want = min(
            max(expected - total + 1, 65536 if not expected else 1), count - total
        )
        chunk = os.read(descriptor, want)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if len(chunk) < want and total >= expected:
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _size(count: int) -> str:
    return f"{count / MiB:.0f} MiB" if count >= MiB else f"{count} bytes"


def read_bytes(name: str, limit: int, folder_fd: int | None = None) -> bytes | None:
    """The whole file, None when it does not exist; UnsafeFile beyond ``limit``."""
    try:
        descriptor, size = _open_checked(name, folder_fd)
    except FileNotFoundError:
        return None
    try:
        return _read_all(descriptor, size, limit)
    finally:
        os.close(descriptor)


def read_tail(
    name: str, limit: int, folder_fd: int | None = None
) -> tuple[bytes, int] | None:
    """(the last ``limit`` bytes, how many bytes came before them); None if missing.

    What ``show`` needs of a gigabyte of stdout: its end, read in one seek.
    The cut is moved to the next line start so no half line is shown.
    """
    try:
        descriptor, size = _open_checked(name, folder_fd)
    except FileNotFoundError:
        return None
    try:
        skipped = max(size - limit, 0)
        if skipped:
            os.lseek(descriptor, skipped, os.SEEK_SET)
        data = _read_up_to(descriptor, limit, size - skipped)
    finally:
        os.close(descriptor)
    if skipped:
        newline = data.find(b"\n")
        if 0 <= newline < len(data) - 1:
            skipped += newline + 1
            data = data[newline + 1 :]
    return data, skipped


_decode = json.JSONDecoder().decode  # json.loads less its encoding detection


class JSONShapeError(ValueError):
    """Valid JSON, but deeper or wider than a reader accepts."""


def loads_bounded(data: bytes | str) -> Any:
    """json.loads, with nesting refused beyond ``JSON_DEPTH_LIMIT``.

    A document with fewer brackets than the limit cannot be too deep, so the
    walk is only paid by documents that could be (almost never a real one).
    """
    text = data if isinstance(data, str) else data.decode("utf-8")  # spec: UTF-8
    text = text.removeprefix("\ufeff")  # a byte order mark, as json.loads allows
    try:
        value = _decode(text)
    except RecursionError:
        raise JSONShapeError(
            f"it is nested deeper than {JSON_DEPTH_LIMIT} levels"
        ) from None
    if (
        text.count("[") + text.count("{") > JSON_DEPTH_LIMIT
        and nesting_depth(text) > JSON_DEPTH_LIMIT
    ):
        raise JSONShapeError(f"it is nested deeper than {JSON_DEPTH_LIMIT} levels")
    return value


def nesting_depth(text: bytes | str) -> int:
    """How deep the brackets of a valid JSON text nest, without walking the value.

    Escaped backslashes and quotes are dropped (``bytes.replace`` consumes
    backslash pairs left to right, as JSON's escapes do), so every
    remaining quote opens or closes a string; brackets count where the
    number of quotes before them is even. All at C speed, where a walk of
    a 100,000-row column costs a tenth of a second.
    """
    import numpy as np  # only here: the command's cache hits never load numpy

    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    raw = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(raw == ord('"'))
    opening = (raw == ord("[")) | (raw == ord("{"))
    brackets = np.flatnonzero(opening | (raw == ord("]")) | (raw == ord("}")))
    # A bracket is structural when an even number of quotes comes before it.
    outside = (np.searchsorted(quotes, brackets) & 1) == 0
    steps = np.where(opening[brackets], 1, -1)[outside]
    return int(np.cumsum(steps).max(initial=0))


def count_values(values: dict, limit: int) -> int:
    """How many flattened values the object has, counting stops past ``limit``."""
    count = 0
    stack = [values]
    while stack and count <= limit:
        item = stack.pop()
        for child in item.values():
            if type(child) is dict and child:
                stack.append(child)
            else:
                count += 1
    return count


def first_values(values: dict, limit: int) -> dict:
    """The object cut to its first ``limit`` flattened values (key order kept)."""
    kept: dict = {}
    budget = [limit]

    def copy(source: dict, target: dict) -> None:
        for key, child in source.items():
            if budget[0] <= 0:
                return
            if type(child) is dict and child:
                target[key] = {}
                copy(child, target[key])
            else:
                target[key] = child
                budget[0] -= 1

    copy(values, kept)  # depth is bounded already (loads_bounded)
    return kept


def safe_text(name: str) -> str:
    """A file or folder name that can be printed: undecodable bytes as ``\\xNN``.

    ``os.scandir`` gives undecodable bytes as lone surrogates, which no UTF-8
    stream accepts. The spec forbids ``\\`` in ids, so the escaped form is
    unambiguous and :func:`folder_name` turns it back.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(name).decode("utf-8", errors="backslashreplace")
    return name


def folder_name(text: str) -> str:
    """The folder name behind :func:`safe_text`'s form of it."""
    if "\\x" not in text:
        return text
    raw = bytearray()
    for number, part in enumerate(_ESCAPED_BYTE.split(text)):
        raw += bytes([int(part, 16)]) if number % 2 else part.encode("utf-8")
    return os.fsdecode(bytes(raw))
