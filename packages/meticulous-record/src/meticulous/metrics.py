"""``metrics.jsonl``: one compact JSON line per ``log`` call (spec 2.5).

Appended with one ``os.write`` per line to a descriptor opened with
``O_APPEND``, so every completed call is in the file (in the kernel's page
cache, not a Python buffer) the moment ``log`` returns: a crash or SIGKILL
loses no completed line, and a reader can follow the file live. There is no
fsync per line: that would cost a disk round trip per step, and a machine
crash is what the heartbeat and the unterminated-last-line rule are for.
A write the disk cuts short is completed or cut off again (spec 12.2): a
row is in the file whole, or ``log`` raises. The hot path is kept to a set comparison of the names, a dict merge, one
C-encoded ``json`` call and one system call.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from time import time as _now
from typing import Any

from .exceptions import InvalidMetricsError, StorageError
from .jsonable import line_encoder, readable
from .safepaths import open_file

# Names already checked are remembered so a training loop logging the same
# few names every step skips the check; the cap keeps memory bounded for a
# loop that invents a name per step (those are checked every time).
_MAX_KNOWN_NAMES = 1024

Chunks = Callable[[Any, int], Iterable[str]]


class MetricsLog:
    def __init__(self, folder: Path) -> None:
        self.path = folder / "metrics.jsonl"
        self._fd: int | None = None
        self._next_step: int | None = None
        self.forked = False  # set once this process or its parent forked (spec 2.5)
        self._known_names: set[str] = set()
        self._encode = line_encoder()
        self._chunks = _c_line_chunks() or _chunks_of(self._encode)

    def append(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        if type(metrics) is not dict and not isinstance(metrics, Mapping):
            raise InvalidMetricsError(
                f"log() takes a dict of metric names to values, not "
                f"{type(metrics).__name__}"
            )
        if not self._known_names.issuperset(metrics):
            self._check_names(metrics)
        if self._fd is None:
            self._open()
        if self.forked:  # several processes append: steps come from the file
            from .forks import exclusive_lock

            with exclusive_lock(self.path):
                if step is None:
                    self._next_step = _step_after_last_line(self._fd)
                self._write_row(metrics, step)
            return
        self._write_row(metrics, step)

    def _write_row(self, metrics: Mapping[str, Any], step: int | None) -> None:
        if step is None:
            step = self._next_step
        elif type(step) is not int:
            step = _checked_step(step)
        row = {"_step": step, "_time": _now(), **metrics}
        try:
            line = "".join(self._chunks(row, 0))
        except (ValueError, TypeError, RecursionError):  # NaN, odd keys, a cycle
            line = self._encode(row)
        data = (line + "\n").encode("utf-8")
        try:
            written = os.write(self._fd, data)
        except OSError as error:
            raise _refused(self.path, step, error) from None
        if written != len(data):
            self._complete_line(data, written, step)
        self._next_step = step + 1

    def _complete_line(self, data: bytes, written: int, step: int) -> None:
        """Finish a short write, or cut the partial line off again (spec 12.2).

        With ``O_APPEND`` the offset after a write is the end of what it
        wrote, so the line began ``written`` bytes before it.
        """
        start = os.lseek(self._fd, 0, os.SEEK_CUR) - written
        try:
            while written < len(data):
                written += os.write(self._fd, data[written:])
        except OSError as error:
            try:
                os.ftruncate(self._fd, start)
            except OSError:
                pass  # the unterminated last line is then ignored by readers
            raise _refused(self.path, step, error) from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _check_names(self, metrics: Mapping[str, Any]) -> None:
        for name in metrics:
            if not isinstance(name, str) or name[:1] == "_":
                raise InvalidMetricsError(
                    f"metric name {name!r} is not allowed: names must be strings "
                    f"not starting with '_' (reserved for _step and _time)"
                )
        if len(self._known_names) < _MAX_KNOWN_NAMES:
            self._known_names.update(metrics)

    def _open(self) -> None:
        self._fd = open_file(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        if self._next_step is None:
            self._next_step = _step_after_last_line(self._fd)


def _c_line_chunks() -> Chunks | None:
    """The C encoder behind ``json.dumps``, built once instead of per call.

    ``JSONEncoder.encode`` builds it anew for every call, which is 40% of a
    ``log`` call's own time. It is not public API, so it is used only when it
    exists and encodes a sample exactly as ``JSONEncoder`` does; otherwise
    (PyPy, a future Python) the caller falls back to ``JSONEncoder``. Built
    without circular checking: a cycle ends in RecursionError, and the slow
    path then reports it properly.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    sample = {"a": [1, 2.5, None, True], "b": {"c": "é\n"}, "d": ()}
    reference = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode(sample)
    try:
        chunks = make(
            None,
            readable,
            json.encoder.encode_basestring,
            None,
            ": ",
            ", ",
            False,
            False,
            False,
        )
        if "".join(chunks(sample, 0)) != reference:
            return None
    except Exception:  # noqa: BLE001 - any surprise means: do not use it
        return None
    return chunks


def _chunks_of(encode: Callable[[Any], str]) -> Chunks:
    return lambda obj, _level: (encode(obj),)


def _checked_step(step: Any) -> int:
    if isinstance(step, bool) or not hasattr(step, "__index__"):
        raise InvalidMetricsError(f"step must be an integer, not {step!r}")
    return step.__index__()


def _refused(path: Path, step: int, error: OSError) -> StorageError:
    return StorageError(
        error.errno or 0,
        f"log() could not record step {step} in {path}: "
        f"{error.strerror or error}; that row is not in the file, the earlier "
        f"ones are intact",
    )


def _step_after_last_line(fd: int) -> int:
    """Where a resumed run's steps continue: one past the last logged step."""
    size = os.fstat(fd).st_size
    if size == 0:
        return 0
    lines = os.pread(fd, 65536, max(0, size - 65536)).split(b"\n")
    for line in reversed(lines[1:] if size > 65536 else lines):
        try:
            step = json.loads(line).get("_step")
        except (ValueError, AttributeError):
            continue
        if isinstance(step, int):
            return step + 1
    return 0
