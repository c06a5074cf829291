"""``metrics.jsonl``: one compact JSON line per ``log`` call (spec 2.5).

Appended with one ``os.write`` per line to a descriptor opened with
``O_APPEND``, so every completed call is in the file (in the kernel's page
cache, not a Python buffer) the moment ``log`` returns: a crash or SIGKILL
loses no completed line, and a reader can follow the file live. There is no
fsync per line: that would cost a disk round trip per step, and a machine
crash is what the heartbeat and the unterminated-last-line rule are for.
The hot path is kept to a set comparison of the names, a dict merge, one
C-encoded ``json`` call and one system call.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from time import time as _now
from typing import Any

from .exceptions import InvalidMetricsError
from .jsonable import line_encoder, readable

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
        attempt = _attempt_of(folder)  # {"_attempt": n} on rows of a resumed run
        self._attempt = {"_attempt": attempt} if attempt > 1 else {}
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
                    self._next_step = _step_after_last_line(self.path)
                self._write_row(metrics, step)
            return
        self._write_row(metrics, step)

    def _write_row(self, metrics: Mapping[str, Any], step: int | None) -> None:
        if step is None:
            step = self._next_step
        elif type(step) is not int:
            step = _checked_step(step)
        row = {"_step": step, "_time": _now(), **self._attempt, **metrics}
        try:
            line = "".join(self._chunks(row, 0))
        except (ValueError, TypeError, RecursionError):  # NaN, odd keys, a cycle
            line = self._encode(row)
        os.write(self._fd, (line + "\n").encode("utf-8"))
        self._next_step = step + 1

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
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        self._fd = os.open(self.path, flags, 0o666)
        if self._next_step is None:
            self._next_step = _step_after_last_line(self.path)


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


def _step_after_last_line(path: Path) -> int:
    """Where a resumed run's steps continue: one past the last logged step."""
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb") as existing:
        existing.seek(max(0, size - 65536))
        lines = existing.read().split(b"\n")
    for line in reversed(lines[1:] if size > 65536 else lines):
        try:
            step = json.loads(line).get("_step")
        except (ValueError, AttributeError):
            continue
        if isinstance(step, int):
            return step + 1
    return 0


def _attempt_of(folder: Path) -> int:
    """Spec §16: run n of a folder is attempt 1 + len(resumes); rows of a
    resumed attempt say so, so its restarted steps are not joined to the last."""
    try:
        with open(folder / "metadata.json", "rb") as handle:
            resumes = json.loads(handle.read()).get("resumes")
    except (OSError, ValueError, AttributeError):
        return 1
    return 1 + len(resumes) if isinstance(resumes, list) else 1
