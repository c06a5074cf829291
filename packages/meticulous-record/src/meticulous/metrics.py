"""``metrics.jsonl``: one compact JSON line per ``log`` call (spec 2.5).

Appended with one ``os.write`` per line to a descriptor opened with
``O_APPEND``, so every completed call is in the file (in the kernel's page
cache, not a Python buffer) the moment ``log`` returns: a crash or SIGKILL
loses no completed line, and a reader can follow the file live. There is no
fsync per line: that would cost a disk round trip per step, and a machine
crash is what the heartbeat and the unterminated-last-line rule are for.
The hot path is kept to a dict merge, one C-encoded ``json`` call and one
system call.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .exceptions import InvalidSummaryError
from .jsonable import line_encoder


class MetricsLog:
    def __init__(self, folder: Path) -> None:
        self.path = folder / "metrics.jsonl"
        self._fd: int | None = None
        self._next_step: int | None = None
        self._encode = line_encoder()

    def append(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        if not isinstance(metrics, Mapping):
            raise InvalidSummaryError(
                f"log() takes a dict of metric names to values, not "
                f"{type(metrics).__name__}"
            )
        for name in metrics:
            if not isinstance(name, str) or name[:1] == "_":
                raise InvalidSummaryError(
                    f"metric name {name!r} is not allowed: names must be strings "
                    f"not starting with '_' (reserved for _step and _time)"
                )
        if self._fd is None:
            self._open()
        if step is None:
            step = self._next_step
        elif type(step) is not int:
            step = _checked_step(step)
        line = self._encode({"_step": step, "_time": time.time(), **metrics})
        os.write(self._fd, (line + "\n").encode("utf-8"))
        self._next_step = step + 1

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self) -> None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        self._fd = os.open(self.path, flags, 0o666)
        if self._next_step is None:
            self._next_step = _step_after_last_line(self.path)


def _checked_step(step: Any) -> int:
    if isinstance(step, bool) or not hasattr(step, "__index__"):
        raise InvalidSummaryError(f"step must be an integer, not {step!r}")
    return step.__index__()


def _step_after_last_line(path: Path) -> int:
    """Where a resumed run's steps continue: one past the last logged step."""
    import json

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
